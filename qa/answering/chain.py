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
from qa.answer import Answer, Citation
from qa.answering.citations import ABSTENTION, CheckedAnswer, check, is_abstention
from qa.answering.generate import Generation
from qa.answering.judge import judge_in_conversation, judge_sentences
from qa.answering.prompt import answer_messages
from qa.answering.retrieve import too_far
from qa.answering.rewrite import History, conversation, rewrite
from qa.answering.verify import Embed, Verification, verify
from qa.llm import ChatModel
from qa.retrieval import SentenceHit
from qa.settings import Settings

log = logging.getLogger(__name__)

Retrieve = Callable[[str, int], list[SentenceHit]]
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
    ):
        #: Gives the model when it is needed: an answer that abstains before the model loads none.
        self.llm = llm
        self.retrieve = retrieve
        self.similarity = similarity
        self.settings = settings
        self.embed = embed
        #: The text of an article by its id, to check that a cited article names what is asked.
        self.article = article

    def stream(self, question: str, history: History | None = None) -> Iterator[str | Answer]:
        """Yield pieces of the answer text as the model writes them, then the checked ``Answer``."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        language = detect_language(question)
        standalone = question
        turns = conversation(history)
        if turns:
            standalone = rewrite(self.llm(), question, turns, language)
            timings["rewrite"] = _since(started)

        mark = time.perf_counter()
        hits = self.retrieve(standalone, self.settings.prompt_sentences)
        timings["retrieve"] = _since(mark)
        far = too_far(hits, self.settings.abstain_below)
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
        verification = self._verify(
            messages, offered, generation.raw, reply.text, checked, standalone, language, timings
        )
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
        self,
        messages: list[dict[str, str]],
        offered: list[SentenceHit],
        raw: str,
        text: str,
        checked: CheckedAnswer,
        question: str,
        language: str,
        timings: dict[str, float],
    ) -> Verification:
        """Each claim of the checked answer against the sentences it cites, with the LLM as judge."""
        llm = self.llm()
        trace = llm.reply_trace() if hasattr(llm, "reply_trace") else None
        answer = _unmarked(checked.text, text)
        judges = self._judges(llm, messages, raw, offered, checked, question, answer, language, timings)
        articles = [self.article(d) for d in dict.fromkeys(c.doc_id for c in checked.citations)] if self.article else []
        return verify(
            answer,
            question,
            language,
            checked.citations,
            self.settings.min_confidence,
            judges=judges,
            doubt=trace.empty_array if trace is not None else None,
            logprobs=trace.string_logprobs if trace is not None else None,
            embed=self.embed,
            articles=articles,
        )

    def _judges(
        self,
        llm: ChatModel,
        messages: list[dict[str, str]],
        raw: str,
        offered: list[SentenceHit],
        checked: CheckedAnswer,
        question: str,
        answer: str,
        language: str,
        timings: dict[str, float],
    ) -> dict[str, float]:
        """The LLM's P(yes) that the cited sentences state the answer, asked as the settings say."""
        judges: dict[str, float] = {}
        kind = self.settings.judge
        if kind in ("conversation", "both"):
            mark = time.perf_counter()
            cited = _numbers(checked.citations, offered)
            judged = judge_in_conversation(llm, messages, raw, cited, language)
            timings["judge_conversation"] = _since(mark)
            if judged is not None:
                judges["conversation"] = judged
        if kind in ("sentences", "both"):
            mark = time.perf_counter()
            sentences = [c.sentence for c in checked.citations]
            judged = judge_sentences(llm, question, answer, sentences, language)
            timings["judge_sentences"] = _since(mark)
            if judged is not None:
                judges["sentences"] = judged
        return judges


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


def _numbers(citations: list[Citation], offered: list[SentenceHit]) -> list[int]:
    """The prompt numbers ([n]) of the cited sentences."""
    position = {(hit.doc_id, hit.sentence_index): n for n, hit in enumerate(offered, start=1)}
    return [position[(c.doc_id, c.sentence_index)] for c in citations if (c.doc_id, c.sentence_index) in position]


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
