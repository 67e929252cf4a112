"""The answering chain in order: language → follow-up rewrite → candidate sentences → numbered prompt
→ the model's reply (JSON held to a schema, streamed) → citation check → claim verification →
``Answer``. The engine owns the parts; this module only orders the steps."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from index.language import detect_language
from qa.answer import Answer
from qa.answering.citations import ABSTENTION, CheckedAnswer, check, is_abstention
from qa.answering.generate import Generation
from qa.answering.judge import judge_answer
from qa.answering.prompt import answer_messages
from qa.answering.retrieve import too_far
from qa.answering.rewrite import History, conversation, rewrite
from qa.answering.verify import Embed, Verification, verify
from qa.crosslingual import SearchQuery
from qa.llm import ChatModel
from qa.retrieval import SentenceHit
from qa.settings import Settings

log = logging.getLogger(__name__)

Retrieve = Callable[[str, int], list[SentenceHit]]
#: The question as retrieval will search it: with its German form, for an English question.
Search = Callable[[str], SearchQuery]
Similarity = Callable[[str, Sequence[SentenceHit]], list[float]]

__all__ = ["Answerer", "History"]

_MARKER = re.compile(r"\s*\[\d+\]")


class Answerer:
    def __init__(
        self,
        llm: Callable[[], ChatModel],
        retrieve: Retrieve,
        similarity: Similarity,
        settings: Settings,
        embed: Embed | None = None,
        article: Callable[[str], str] | None = None,
        search: Search | None = None,
    ):
        #: Gives the model when it is needed: an answer that abstains before the model loads none.
        self.llm = llm
        self.retrieve = retrieve
        self.similarity = similarity
        self.settings = settings
        self.embed = embed
        #: The text of an article by its id, to check that a cited article names what is asked.
        self.article = article
        #: Gives the question's German form before retrieval (which searches it too); None: none.
        self.search = search

    def stream(self, question: str, history: History | None = None) -> Iterator[str | Answer]:
        """Yield pieces of the answer text as the model writes them, then the checked ``Answer``, which
        records the German form the question was searched in, if any."""
        german = None
        for item in self._stream(question, history):
            if isinstance(item, SearchQuery):
                german = item.german
            elif isinstance(item, Answer) and german is not None:
                notes = [f"searched in German as well: {german}", *item.notes]
                yield replace(item, searched_as=german, notes=notes)
            else:
                yield item

    def _stream(self, question: str, history: History | None) -> Iterator[str | Answer | SearchQuery]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        language = detect_language(question)
        standalone = question
        turns = conversation(history)
        if turns:
            standalone = rewrite(self.llm(), question, turns, language)
            timings["rewrite"] = _since(started)

        # An English question's German form: retrieval searches it too, and its scores run higher.
        abstain_below = self.settings.abstain_below
        if self.search is not None:
            mark = time.perf_counter()
            query = self.search(standalone)
            if query.german is not None:
                timings["translate"] = _since(mark)
                abstain_below = self.settings.abstain_below_translated
                yield query

        mark = time.perf_counter()
        hits = self.retrieve(standalone, self.settings.prompt_sentences)
        timings["retrieve"] = _since(mark)
        far = too_far(hits, abstain_below)
        if far:
            yield ABSTENTION[language]
            yield _abstention(language, standalone, timings, started, [far], first_token=True)
            return

        messages, offered = answer_messages(hits, language, standalone)
        mark = time.perf_counter()
        generation = Generation(self.llm(), messages, len(offered), self.settings.max_answer_tokens)
        for text in generation.pieces():
            timings.setdefault("first_token", _since(started))
            yield text
        timings["generate"] = _since(mark)

        mark = time.perf_counter()
        reply = generation.reply()
        log.debug("model reply: %s", generation.raw)
        usable = reply.text and not is_abstention(reply.text)
        # The answer alone ("In Wonsan.") says little; with the question it is a claim to compare.
        claim = f"{standalone} {reply.text}"
        similarity = self.similarity(claim, offered) if usable else [0.0] * len(offered)
        checked = check(reply, offered, similarity, self.settings.min_support, standalone)
        timings["check"] = _since(mark)
        if checked.abstained:
            yield _abstention(language, standalone, timings, started, checked.notes)
            return

        mark = time.perf_counter()
        verification = self._verify(_unmarked(checked.text, reply.text), checked, standalone, language, timings)
        timings["verify"] = _since(mark)
        draft = _answer(checked, verification, language, standalone, timings)
        if verification.stated or self.settings.unverified == "mark":
            timings["total"] = _since(started)
            yield draft
            return
        note = "withheld: no cited sentence states the answer " + _signals(verification)
        withheld = _abstention(language, standalone, timings, started, [*checked.notes, note])
        yield _replace_withheld(withheld, draft, verification)

    def _verify(
        self, answer: str, checked: CheckedAnswer, question: str, language: str, timings: dict[str, float]
    ) -> Verification:
        """Each claim of the checked answer against the sentences it cites, with the LLM as judge."""
        llm = self.llm()
        trace = llm.reply_trace() if hasattr(llm, "reply_trace") else None

        def judge() -> float | None:
            mark = time.perf_counter()
            judged = judge_answer(llm, question, answer, [c.sentence for c in checked.citations], language)
            timings["judge"] = _since(mark)
            return judged

        articles = [self.article(d) for d in dict.fromkeys(c.doc_id for c in checked.citations)] if self.article else []
        return verify(
            answer,
            question,
            language,
            checked.citations,
            self.settings.min_confidence,
            judge=judge if self.settings.judge == "llm" else None,
            doubt=trace.empty_array if trace is not None else None,
            logprobs=trace.string_logprobs if trace is not None else None,
            embed=self.embed,
            articles=articles,
        )


def _answer(
    checked: CheckedAnswer, verification: Verification, language: str, question: str, timings: dict[str, float]
) -> Answer:
    notes = list(checked.notes)
    notes.append(("verified " if verification.stated else "not verified ") + _signals(verification))
    return Answer(
        text=checked.text,
        language=language,
        answerable=True,
        citations=verification.citations,
        timings=timings,
        question=question,
        unsupported=checked.unsupported,
        notes=notes,
        unsupported_claims=verification.unsupported_claims,
        confidence=verification.confidence,
        verified=verification.stated,
        signals=verification.signals,
    )


def _replace_withheld(abstention: Answer, draft: Answer, verification: Verification) -> Answer:
    return replace(
        abstention,
        confidence=verification.confidence,
        unsupported_claims=verification.unsupported_claims,
        signals=verification.signals,
        withheld=draft,
    )


def _signals(verification: Verification) -> str:
    parts = [f"confidence {verification.confidence:.2f}"]
    parts += [f"{name} {value:g}" for name, value in verification.signals.items()]
    return "(" + ", ".join(parts) + ")"


def _unmarked(text: str, fallback: str) -> str:
    return _MARKER.sub("", text).strip() or fallback


def _abstention(
    language: str, question: str, timings: dict[str, float], started: float, notes: list[str], first_token: bool = False
) -> Answer:
    if first_token:
        timings["first_token"] = _since(started)
    timings["total"] = _since(started)
    return Answer(ABSTENTION[language], language, False, [], timings, question, [], notes)


def _since(mark: float) -> float:
    return round(time.perf_counter() - mark, 4)
