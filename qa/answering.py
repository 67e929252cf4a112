"""The answering chain: language → follow-up rewrite → retrieval → numbered prompt → LLM (JSON held
to a schema) → citation check → ``Answer``. The engine owns the parts; this module only orders them."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from index.language import detect_language
from qa.answer import Answer
from qa.citations import ABSTENTION, check, is_abstention, parse_reply
from qa.json_stream import StringFieldStream
from qa.llm import ChatModel, complete
from qa.prompts import history_text, numbered_context, render
from qa.retrieval import SentenceHit
from qa.settings import Settings

log = logging.getLogger(__name__)

Retrieve = Callable[[str, int], list[SentenceHit]]
Similarity = Callable[[str, Sequence[SentenceHit]], list[float]]
History = Sequence[dict[str, Any] | Sequence[str]]

_REWRITE_SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}},
    "required": ["question"],
}
_MARKER = re.compile(r"\s*\[\d+\]")
_HISTORY_TURNS = 3


def answer_schema(offered: int) -> dict[str, Any]:
    """The reply: the numbers of the offered sentences that hold the answer, then the answer. Choosing
    the evidence first keeps a small model closer to it; the answer still streams."""
    return {
        "type": "object",
        "properties": {
            "sources": {"type": "array", "items": {"type": "integer", "enum": list(range(1, offered + 1))}},
            "answer": {"type": "string"},
        },
        "required": ["sources", "answer"],
    }


class Answerer:
    def __init__(self, llm: ChatModel, retrieve: Retrieve, similarity: Similarity, settings: Settings):
        self.llm = llm
        self.retrieve = retrieve
        self.similarity = similarity
        self.settings = settings

    def stream(self, question: str, history: History | None = None) -> Iterator[str | Answer]:
        """Yield pieces of the answer text as the model writes them, then the checked ``Answer``."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        language = detect_language(question)
        standalone = question
        turns = conversation(history)
        if turns:
            standalone = self._rewrite(question, turns, language)
            timings["rewrite"] = _since(started)

        mark = time.perf_counter()
        hits = self.retrieve(standalone, self.settings.prompt_sentences)
        timings["retrieve"] = _since(mark)
        best = hits[0].score if hits else 0.0
        if best < self.settings.abstain_below:
            note = f"no sentence is close enough to the question (best {best:.3f} < {self.settings.abstain_below})"
            yield ABSTENTION[language]
            yield _abstention(language, standalone, timings, started, [note], first_token=True)
            return

        context, offered = numbered_context(hits, language)
        messages = render("answer", language, context=context, question=standalone)
        raw: list[str] = []
        visible = StringFieldStream("answer")
        plain: bool | None = None
        mark = time.perf_counter()
        for piece in self.llm.stream(messages, answer_schema(len(offered)), self.settings.max_answer_tokens):
            if "first_token" not in timings:
                timings["first_token"] = _since(started)
            raw.append(piece)
            if plain is None:
                so_far = "".join(raw)
                if not so_far.strip():
                    continue
                # A backend that ignores the schema writes prose; stream that as it is.
                plain = not so_far.lstrip().startswith("{")
                text = so_far if plain else visible.feed(so_far)
            else:
                text = piece if plain else visible.feed(piece)
            if text:
                yield text
        timings["generate"] = _since(mark)

        mark = time.perf_counter()
        reply = parse_reply("".join(raw))
        log.debug("model reply: %s", "".join(raw))
        usable = reply.text and not is_abstention(reply.text)
        # The answer alone ("In Wonsan.") says little; with the question it is a claim to compare.
        claim = f"{standalone} {reply.text}"
        similarity = self.similarity(claim, offered) if usable else [0.0] * len(offered)
        checked = check(reply, offered, similarity, self.settings.min_support, standalone)
        timings["check"] = _since(mark)
        if checked.abstained:
            yield _abstention(language, standalone, timings, started, checked.notes)
            return
        timings["total"] = _since(started)
        yield Answer(
            text=checked.text,
            language=language,
            answerable=True,
            citations=checked.citations,
            timings=timings,
            question=standalone,
            unsupported=checked.unsupported,
            notes=checked.notes,
        )

    def _rewrite(self, question: str, turns: list[tuple[str, str]], language: str) -> str:
        """The follow-up as a question that stands on its own; the question itself where the model
        gives nothing usable."""
        messages = render("rewrite", language, history=history_text(turns, language), question=question)
        raw = complete(self.llm, messages, _REWRITE_SCHEMA, 96)
        try:
            rewritten = json.loads(raw).get("question", "")
        except (json.JSONDecodeError, AttributeError):
            rewritten = ""
        if not isinstance(rewritten, str) or not rewritten.strip() or len(rewritten) > 4 * len(question) + 200:
            log.info("kept the follow-up as asked; the rewrite gave %r", raw)
            return question
        log.debug("rewrote %r as %r", question, rewritten)
        return rewritten.strip()


def conversation(history: History | None) -> list[tuple[str, str]]:
    """The last exchanges as (question, answer) pairs. Accepts chat messages (``{"role", "content"}``,
    as Gradio and OpenAI use them) or (question, answer) pairs. Citation markers are removed."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for turn in history or []:
        if isinstance(turn, dict):
            role, content = turn.get("role"), _text_of(turn.get("content"))
            if role == "user":
                pending = content
            elif role == "assistant" and pending is not None:
                pairs.append((pending, content))
                pending = None
        elif isinstance(turn, Sequence) and not isinstance(turn, str) and len(turn) == 2:
            pairs.append((_text_of(turn[0]), _text_of(turn[1])))
    cleaned = [(q.strip(), _MARKER.sub("", a).strip()) for q, a in pairs if q and q.strip()]
    return cleaned[-_HISTORY_TURNS:]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return " ".join(_text_of(part) for part in content)
    return "" if content is None else str(content)


def _abstention(
    language: str, question: str, timings: dict[str, float], started: float, notes: list[str], first_token: bool = False
) -> Answer:
    if first_token:
        timings["first_token"] = _since(started)
    timings["total"] = _since(started)
    return Answer(ABSTENTION[language], language, False, [], timings, question, [], notes)


def _since(mark: float) -> float:
    return round(time.perf_counter() - mark, 4)
