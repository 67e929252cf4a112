"""One visitor's conversation on the chat page: the turns so far and the citation the source panel shows.

The page keeps one ``ChatSession`` per browser session (Gradio state), so visitors never see each
other's questions, answers or sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from index.language import detect_language
from qa.answer import Answer, Citation
from qa.chat import render


@dataclass(slots=True)
class Turn:
    question: str
    answer: Answer | None = None
    #: Why the question got no answer (backend down, empty question, …), shown instead of one.
    notice: str | None = None
    #: The answer text so far while it is being written.
    partial: str | None = None
    #: The quote so far while the model copies it, before the answer.
    quoting: str | None = None


@dataclass(slots=True)
class ChatSession:
    turns: list[Turn] = field(default_factory=list)
    #: The citation in the source panel: (turn, citation index from 0).
    selected: tuple[int, int] | None = None
    #: Which copy of that citation's sentence in another article the panel shows (an index into its
    #: ``also``), or None for the cited sentence itself.
    copy: int | None = None
    #: Machine translations made for this visitor, by German sentence, so that opening a citation
    #: again (or another citing the same sentence) shows its translation without asking the model.
    translations: dict[str, str] = field(default_factory=dict)

    def history(self) -> list[tuple[str, str]]:
        """(question, answer) pairs of the answered turns, for follow-up questions."""
        return [(turn.question, turn.answer.text) for turn in self.turns if turn.answer is not None]

    def messages(self) -> list[dict[str, str]]:
        """The conversation as chat messages of HTML."""
        out: list[dict[str, str]] = []
        for number, turn in enumerate(self.turns):
            if turn.question:
                out.append({"role": "user", "content": render.user_message(turn.question)})
            if turn.answer is not None:
                content = render.answer_message(turn.answer, number)
            elif turn.notice is not None:
                content = render.notice_message(turn.notice)
            elif turn.partial:
                content = render.streaming_message(turn.partial)
            elif turn.quoting:
                content = render.quoting_message(turn.quoting, _language_hint(turn.question))
            else:
                content = render.pending_message(_language_hint(turn.question))
            out.append({"role": "assistant", "content": content})
        return out

    def select(self, turn: int, index: int, copy: int | None = None) -> bool:
        """Show citation ``index`` of answer ``turn``, or its ``copy`` in another article; False when
        there is no such citation (a copy it does not have shows the citation itself)."""
        answer = self.answer(turn)
        if answer is None or not 0 <= index < len(answer.citations):
            return False
        self.selected = (turn, index)
        self.copy = copy if copy is not None and 0 <= copy < len(answer.citations[index].also) else None
        return True

    def step(self, delta: int) -> bool:
        """Move to the previous (-1) or next (+1) citation of the selected answer, wrapping around."""
        if self.selected is None:
            return False
        turn, index = self.selected
        answer = self.answer(turn)
        if answer is None or not answer.citations:
            return False
        return self.select(turn, (index + delta) % len(answer.citations))

    def answer(self, turn: int) -> Answer | None:
        return self.turns[turn].answer if 0 <= turn < len(self.turns) else None

    def selected_citation(self) -> tuple[Answer, Citation] | None:
        """The answer and the citation the source panel shows (a copy as a citation of its own
        sentence), or None."""
        if self.selected is None:
            return None
        turn, index = self.selected
        answer = self.answer(turn)
        if answer is None or not 0 <= index < len(answer.citations):
            return None
        if self.copy is not None and self.copy < len(answer.citations[index].also):
            return answer, render.as_citation(answer.citations[index], self.copy)
        return answer, answer.citations[index]


def _language_hint(question: str) -> str:
    return detect_language(question) if question else "en"
