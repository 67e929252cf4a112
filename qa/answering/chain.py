"""The answering chain in order: language → follow-up rewrite → candidate sentences → numbered prompt
→ the model's reply (JSON held to a schema: the sentence, a verbatim quote of it, then the answer;
the quote streamed) → the quote found again in its sentence → the answer held to the quote (its
numbers, units and names) and to the question (its type, its subject) → citation check → claim
verification → ``Answer``. The answer's text is passed on only once it has passed the checks, so an
answer is never shown and then taken back. The engine owns the parts; this module only orders the
steps."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from index.language import detect_language
from index.retrieval import SentenceHit
from qa.answer import Answer, Citation, QuotePiece
from qa.answering.asked import asked_type, type_mismatch
from qa.answering.calibration import QUOTED_CITATION, article_signals, load_calibrator
from qa.answering.citations import ABSTENTION, CheckedAnswer, check, is_abstention
from qa.answering.generate import Generation, ModelReply
from qa.answering.judge import judge_answer
from qa.answering.prompt import answer_messages, one_line
from qa.answering.quote import Quote, foreign_facts, is_name, locate, widen
from qa.answering.retrieve import too_far
from qa.answering.rewrite import History, conversation, rewrite
from qa.answering.support import restates
from qa.answering.verify import Embed, Verification, verify
from qa.crosslingual import SearchQuery
from qa.llm import ChatModel, TracesReplies
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
        #: The text of an article by its id (title, line break, text): read only for a calibrator that
        #: weighs whether the cited article names what is asked (``calibration.ARTICLE_FEATURES``).
        self.article = article
        #: Gives the question's German form before retrieval (which searches it too); None: none.
        self.search = search

    def stream(self, question: str, history: History | None = None) -> Iterator[str | QuotePiece | Answer]:
        """In the "quote" form, yield the quote's pieces as the model copies them, then the answer's
        text once it has passed the checks (or the abstention); in the "answer" form, the answer's
        pieces as the model writes them. Then the checked ``Answer``, which records the German form
        the question was searched in, if any."""
        german = None
        streamed = False
        for item in self._stream(question, history):
            if isinstance(item, SearchQuery):
                german = item.german
            elif isinstance(item, Answer):
                if german is not None:
                    notes = [f"searched in German as well: {german}", *item.notes]
                    item = replace(item, searched_as=german, notes=notes)
                if not streamed:
                    yield _MARKER.sub("", item.text).strip()
                yield item
            else:
                streamed = streamed or isinstance(item, str)
                yield item

    def _stream(self, question: str, history: History | None) -> Iterator[str | QuotePiece | Answer | SearchQuery]:
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
        # The question as the German sentences can be compared with: its German form, if any.
        in_german = standalone
        if self.search is not None:
            mark = time.perf_counter()
            query = self.search(standalone)
            if query.german is not None:
                timings["translate"] = _since(mark)
                abstain_below = self.settings.abstain_below_translated
                in_german = query.german
                yield query

        mark = time.perf_counter()
        hits = self.retrieve(standalone, self.settings.prompt_sentences)
        timings["retrieve"] = _since(mark)
        far = too_far(hits, abstain_below)
        if far:
            yield _abstention(language, standalone, timings, started, [far], first_token=True)
            return

        quoting = self.settings.answer_form == "quote"
        messages, offered = answer_messages(hits, language, standalone, self.settings.answer_form)
        mark = time.perf_counter()
        sentences = [one_line(h.sentence) for h in offered]
        generation = Generation(self.llm(), messages, sentences, self.settings.max_answer_tokens, quoting)
        for field, text in generation.pieces():
            timings.setdefault("first_token", _since(started))
            if field == "quote" and quoting:
                yield QuotePiece(text)
            elif field == "answer" and not quoting:
                # Without a quote the answer streams as it is written; the final text may differ.
                yield text
        timings["generate"] = _since(mark)

        mark = time.perf_counter()
        reply = generation.reply()
        log.debug("model reply: %s", generation.raw)
        usable = reply.text and not is_abstention(reply.text)
        quote = locate(reply.quote, offered, reply.cited) if usable and quoting else None
        if usable and quoting and quote is None:
            note = "abstained: the quote is not a verbatim part of the sentence it names"
            yield _abstention(language, standalone, timings, started, [note])
            return
        if (
            quote is not None
            and language == "de"
            and restates(reply.text, standalone)
            and not restates(quote.text, standalone)
        ):
            # The German answer only repeats the question, while its quote says more: the quote is the answer.
            reply = replace(reply, text=quote.text)
        # The answer alone ("In Wonsan.") says little; with the question it is a claim to compare.
        claim = f"{standalone} {reply.text}"
        similarity = self.similarity(claim, offered) if usable else [0.0] * len(offered)
        checked = check(reply, offered, similarity, self.settings.min_support, standalone)
        timings["check"] = _since(mark)
        if checked.abstained:
            yield _abstention(language, standalone, timings, started, checked.notes)
            return
        moved = quote is not None and not _cites(checked, offered[quote.index])
        if quote is None or moved:
            # No quote (the "answer" form), or the check cited the sentence that holds the answer's
            # numbers and names, not the one the model quoted: the evidence is those words of that
            # sentence, or, for an answer without numbers and names, its first cited sentence.
            located = _evidence_of(reply.text, checked, offered, standalone, language)
            if located is None and moved:
                note = "abstained: the answer's facts are not in the sentence it quotes"
                yield _abstention(language, standalone, timings, started, [*checked.notes, note])
                return
            quote = located or _first_cited(checked, offered)
            if moved:
                checked.notes.append(f"the quote moved to [{quote.index + 1}], which holds the answer's facts")
        quoted = offered[quote.index]

        mark = time.perf_counter()
        verification = self._verify(_unmarked(checked.text, reply.text), checked, standalone, language, timings)
        timings["verify"] = _since(mark)
        refusals, quote = self._quote_checks(reply, quote, offered, in_german, standalone, language, verification)
        verification.signals["quote_moved"] = float(moved)
        verification.signals["quoted_by_model"] = float(quoting)
        verification.signals[QUOTED_CITATION] = float(_position(verification.citations, quoted))
        self._calibrate(verification, standalone, in_german, language)
        if refusals:
            verification.stated = False
        verification.citations = [
            _quoted_evidence(c, quoted, quote, verification.stated) for c in verification.citations
        ]
        draft = _answer(checked, verification, language, standalone, timings, quote.text if quoting else "")
        if verification.stated or (self.settings.unverified == "mark" and not refusals):
            timings["total"] = _since(started)
            yield draft
            return
        reasons = refusals or ["no cited sentence states the answer"]
        note = "withheld: " + "; ".join(reasons) + " " + _signals(verification)
        withheld = _abstention(language, standalone, timings, started, [*checked.notes, note])
        yield _replace_withheld(withheld, draft, verification)

    def _quote_checks(
        self,
        reply: ModelReply,
        quote: Quote,
        offered: Sequence[SentenceHit],
        in_german: str,
        question: str,
        language: str,
        verification: Verification,
    ) -> tuple[list[str], Quote]:
        """Whether the answer comes from its quote and the quote answers the question: the reasons
        to withhold the answer (none: it may be shown), and the quote, grown over the words of its
        sentence that hold the answer's facts where the model copied too little. The measured inputs
        join the verification's signals, and what retrieval and the decoder measured on the way."""
        quoted = offered[quote.index]
        refusals = []
        translated = language != "de"
        foreign = foreign_facts(reply.text, quote.text, question, quoted.sentence, translated)
        grown, missing = widen(quote, quoted.sentence, foreign) if foreign else (quote, [])
        quote = grown
        if self.settings.answer_form != "quote":
            # Without a model's quote, an answer may join two cited sentences (a thought finished in
            # the next): a fact another cited sentence holds is evidence too.
            others = [c.sentence for c in verification.citations if c.sentence != quoted.sentence]
            missing = [
                fact for fact in missing if not any(widen(Quote("", 0, 0, 0), s, [fact])[0].text for s in others)
            ]
        # A number, a unit or a German name from nowhere in the evidence withholds the answer; an
        # English name it lacks (a translated title, a first name from elsewhere) is a signal.
        hard = [fact for fact in missing if not (translated and is_name(fact))]
        if hard:
            refusals.append("not in the quote: " + ", ".join(hard))
        kind = asked_type(question) or asked_type(in_german)
        mismatch = type_mismatch(kind, quote.text, reply.text, quoted.sentence)
        if mismatch:
            refusals.append(mismatch)
        scores = sorted((h.score for h in offered), reverse=True)
        llm = self.llm()
        trace = llm.reply_trace() if isinstance(llm, TracesReplies) else None
        verification.signals.update(
            {
                "quote_words": float(len(quote.text.split())),
                "foreign_facts": float(len(missing)),
                "quote_grown": float(bool(foreign) and len(missing) < len(foreign)),
                "type_checked": float(kind is not None),
                "type_fits": float(mismatch is None),
                "retrieval_score": round(quoted.score, 4),
                "retrieval_gap": round(scores[0] - scores[1], 4) if len(scores) > 1 else 0.0,
                "retrieval_rank": float(sorted(offered, key=lambda h: -h.score).index(quoted)),
            }
        )
        if trace is not None and trace.quote_logprobs:
            verification.signals["quote_logprob_mean"] = round(sum(trace.quote_logprobs) / len(trace.quote_logprobs), 4)
            verification.signals["quote_logprob_min"] = round(min(trace.quote_logprobs), 4)
        return refusals, quote

    def _calibrate(self, verification: Verification, question: str, in_german: str, language: str) -> None:
        """With a calibrator (the setting ``calibrator``): the confidence is its probability that the
        draft is right, and the draft counts as stated when no number, name or noun is missing and
        that probability reaches ``min_calibrated``. The features read from the cited articles join
        the signals first, those the calibrator weighs only. The verifier's own confidence is kept as
        a signal."""
        if not self.settings.calibrator:
            return
        calibrator = load_calibrator(self.settings.calibrator)
        quoted = int(verification.signals[QUOTED_CITATION])
        verification.signals.update(
            article_signals(question, in_german, verification.citations, quoted, self.article, calibrator.weights)
        )
        probability = calibrator.probability(verification.signals, language)
        verification.signals["verifier_confidence"] = verification.confidence
        verification.confidence = probability
        missing = verification.signals.get("facts_missing", 0.0) > 0
        verification.stated = not missing and probability >= self.settings.min_calibrated

    def _verify(
        self, answer: str, checked: CheckedAnswer, question: str, language: str, timings: dict[str, float]
    ) -> Verification:
        """Each claim of the checked answer against the sentences it cites, with the LLM as judge."""
        llm = self.llm()
        trace = llm.reply_trace() if isinstance(llm, TracesReplies) else None

        def judge() -> float | None:
            mark = time.perf_counter()
            judged = judge_answer(llm, question, answer, [c.sentence for c in checked.citations], language)
            timings["judge"] = _since(mark)
            return judged

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
        )


def _cites(checked: CheckedAnswer, hit: SentenceHit) -> bool:
    return any((c.doc_id, c.sentence_index) == (hit.doc_id, hit.sentence_index) for c in checked.citations)


def _position(citations: Sequence[Citation], hit: SentenceHit) -> int:
    """Where ``hit`` is among ``citations`` (the quoted sentence is cited); -1 where it is not."""
    where = (hit.doc_id, hit.sentence_index)
    return next((i for i, c in enumerate(citations) if (c.doc_id, c.sentence_index) == where), -1)


def _first_cited(checked: CheckedAnswer, offered: Sequence[SentenceHit]) -> Quote:
    """The first cited sentence, whole."""
    index = next(i for i, hit in enumerate(offered) if _cites(checked, hit))
    return Quote(offered[index].sentence, index, 0, len(offered[index].sentence))


def _evidence_of(
    answer: str, checked: CheckedAnswer, offered: Sequence[SentenceHit], question: str, language: str
) -> Quote | None:
    """The words of the first cited sentence that hold every number, unit and name of the answer
    (that the question does not give); None when no cited sentence holds them all."""
    facts = foreign_facts(answer, "", question, "", translated=False)
    for index, hit in enumerate(offered):
        if not _cites(checked, hit):
            continue
        quote, missing = widen(Quote("", index, 0, 0), hit.sentence, facts)
        if quote.text and not [fact for fact in missing if not (language != "de" and is_name(fact))]:
            return quote
    return None


def _quoted_evidence(citation: Citation, quoted: SentenceHit, quote: Quote, stated: bool) -> Citation:
    """The quoted sentence's evidence is the quote itself (document offsets), unless the quote is the
    whole sentence (the verifier's span is finer then); it states the answer when the answer is
    stated."""
    if (citation.doc_id, citation.sentence_index) != (quoted.doc_id, quoted.sentence_index):
        return citation
    if quote.start == 0 and quote.end == len(quoted.sentence):
        return replace(citation, verdict="states" if stated else "related")
    start, end = quoted.start + quote.start, quoted.start + quote.end
    return replace(citation, evidence_start=start, evidence_end=end, verdict="states" if stated else "related")


def _answer(
    checked: CheckedAnswer,
    verification: Verification,
    language: str,
    question: str,
    timings: dict[str, float],
    quote: str,
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
        quote=quote,
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
