"""The engine: the one object every face (CLI, Python API, chat, evaluation) talks to."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from index.builder import IndexReport
from index.documents import Document
from index.errors import UserError
from index.retrieval import HybridRetriever, SentenceHit
from index.store import Index, IndexConfig
from qa.answer import Answer, QuotePiece
from qa.answering import Answerer, History
from qa.crosslingual import PROMPT as SEARCH_PROMPT
from qa.crosslingual import TRANSLATED, SearchForms, SearchQuery
from qa.filters import ArticleFilter, DateSpan, FilterError, Outlet, date_span, no_match, outlets
from qa.llm import ChatModel, make_llm
from qa.prompts import fixed_starts
from qa.settings import UNVERIFIED_POLICIES, Settings

log = logging.getLogger(__name__)

_MAX_SENTENCES = 20


class QuestionError(UserError):
    """The question cannot be asked as it is."""


@dataclass(frozen=True, slots=True)
class Retrieval:
    """The sentences found for a question, and the question as it was searched."""

    query: SearchQuery
    hits: list[SentenceHit]

    def to_dict(self) -> dict:
        return {"query": self.query.to_dict(), "hits": [hit.to_dict() for hit in self.hits]}


class Engine:
    """The door to the product: an ``Index`` (the articles, their vectors and the retriever) and the
    ``Answerer`` (the LLM and the checks) under one set of settings.

    Heavy parts (the embedding model, the LLM, the in-memory snapshot) load on first use.
    ``chat_model`` replaces the LLM backend the settings describe, for example to share one loaded
    model between engines.
    """

    def __init__(self, settings: Settings, chat_model: ChatModel | None = None):
        self.settings = settings
        self.index_dir = settings.index_dir
        self.store = Index(IndexConfig.of(settings))
        self._llm = chat_model
        #: Whether the LLM has evaluated and kept the fixed start of every prompt.
        self._llm_ready = False
        self._lock = threading.RLock()
        #: Taken while the LLM warms up, which takes long: the other parts stay usable meanwhile.
        self._llm_lock = threading.Lock()
        self._search_forms = SearchForms(self.ready_llm, enabled=settings.query_translation == "llm")

    @property
    def retriever(self) -> HybridRetriever:
        """Hybrid retrieval over the index, with the settings' weights."""
        s = self.settings
        return self.store.retriever(s.candidate_chunks, s.rrf_k, s.lexical_weight, s.context_weight)

    @property
    def llm(self) -> ChatModel:
        """The configured LLM backend; the embedded model is assembled and loaded on first use."""
        with self._lock:
            if self._llm is None:
                self._llm = make_llm(self.settings)
            return self._llm

    def warm_up(self) -> dict[str, float]:
        """Load the index, the embedding model and the LLM now rather than on the first question; the
        LLM evaluates (or reads back) the fixed start of every prompt. Returns the seconds each took."""
        return {
            "index": _timed(self.store.snapshot),
            "embedding model": _timed(lambda: self.store.embed("warm-up")),
            "LLM": _timed(self.ready_llm),
        }

    def ready_llm(self) -> ChatModel:
        """The LLM, loaded, with the fixed start of every prompt (both kinds, both languages) evaluated
        and kept, so that follow-ups and a change of language cost no more than the rest. Done once,
        the first time any face asks."""
        with self._llm_lock:
            if not self._llm_ready:
                self.llm.warm_up(self.prompt_starts())
                self._llm_ready = True
            return self.llm

    def prompt_starts(self) -> list[list[dict[str, str]]]:
        """The fixed start of every prompt these settings use: answer and rewrite in both languages, the
        judge's unless it is off, and the English question's German form unless that is off."""
        judged = self.settings.judge == "llm"
        answer = self.settings.answer_form  # "answer" or "quote": the prompt of that name
        starts = fixed_starts((answer, "rewrite", "judge") if judged else (answer, "rewrite"))
        if self.settings.query_translation == "llm":
            starts += fixed_starts((SEARCH_PROMPT,), TRANSLATED)
        return starts

    @property
    def llm_ready(self) -> bool:
        """Whether the LLM is loaded with its prompt starts kept."""
        return self._llm_ready

    def ask(
        self,
        question: str,
        history: History | None = None,
        *,
        sentences: int | None = None,
        unverified: str | None = None,
        since: str | None = None,
        until: str | None = None,
        sources: Iterable[str] | None = None,
    ) -> Answer:
        """Answer ``question`` from the articles, with verified sentence citations. ``history`` is
        the conversation so far, as chat messages or (question, answer) pairs; ``sentences`` is how
        many retrieved sentences the model reads (``settings.prompt_sentences`` when not given);
        ``unverified`` says what becomes of an answer no cited sentence states: "abstain" (withhold
        it) or "mark" (show it marked as unverified); ``settings.unverified`` when not given.
        ``since``, ``until`` ("2023-10-05", "5.10.2023", "2023-10" …) and ``sources`` (outlets, in any
        case) answer from the matching articles only; ``FilterError`` when none matches."""
        final = None
        for item in self.stream(
            question, history, sentences=sentences, unverified=unverified, since=since, until=until, sources=sources
        ):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(
        self,
        question: str,
        history: History | None = None,
        *,
        sentences: int | None = None,
        unverified: str | None = None,
        since: str | None = None,
        until: str | None = None,
        sources: Iterable[str] | None = None,
    ) -> Iterator[str | QuotePiece | Answer]:
        """Yield the pieces of the quote as the model copies it (``QuotePiece``), then the answer's text
        once it has passed the checks, then the final ``Answer``, whose text carries the citation
        markers.
        The options are as in ``ask``. A question that cannot be asked raises ``QuestionError``, and a
        filter that cannot be read or matches no article ``FilterError``, here, before anything is
        generated."""
        question = self.check_question(question)
        article_filter = self.article_filter(since, until, sources)
        settings = self.settings
        if sentences is not None:
            settings = settings.replace(prompt_sentences=_check_sentences(sentences))
        if unverified is not None:
            if unverified not in UNVERIFIED_POLICIES:
                raise QuestionError(f"unverified must be one of {', '.join(UNVERIFIED_POLICIES)}, not {unverified!r}")
            settings = settings.replace(unverified=unverified)
        answerer = Answerer(
            self.ready_llm,
            partial(self._retrieve_for_answer, article_filter=article_filter),
            self.answer_similarity,
            settings,
            embed=self.store.embed,
            # Read only by a calibrator's article features (question_found, subject_found).
            article=self.article_text if settings.calibrator else None,
            search=self.search_query,
        )
        return answerer.stream(question, history)

    def translate(self, text: str, language: str = "en") -> str:
        """A machine translation of ``text`` (an article sentence) into ``language``, made by the LLM.
        It helps a reader; the citation stays the original sentence."""
        from qa.translation import translate

        return translate(self.ready_llm(), text, language)

    def _retrieve_for_answer(
        self, question: str, k: int, article_filter: ArticleFilter | None = None
    ) -> list[SentenceHit]:
        """The ``k`` best sentences, and the sentence after the best one, which often completes it."""
        german = self.search_query(question).german
        return self.retriever.retrieve(question, k, article_filter, german, following=True)

    def search_query(self, question: str) -> SearchQuery:
        """``question`` as retrieval searches it: an English question also in German, as the LLM writes
        it (unless the setting ``query_translation`` is "off")."""
        return self._search_forms.query(question)

    def article_text(self, doc_id: str) -> str:
        """An article's title, a line break and its text, as the checks read it; empty for an id the
        index does not hold."""
        document = self.store.documents.get(doc_id)
        return f"{document.title}\n{document.text}" if document is not None else ""

    def answer_similarity(self, text: str, hits: Sequence[SentenceHit]) -> list[float]:
        """Cosine similarity between ``text`` and each hit's sentence vector."""
        return self.store.similarities(text, [hit.vector_id for hit in hits])

    def index(
        self,
        paths: list[Path] | list[str],
        progress: bool = False,
        rebuild: bool = False,
        fields: dict[str, str] | None = None,
    ) -> IndexReport:
        """Add, update and remove documents so the index matches the files under ``paths``.
        ``rebuild`` first empties the index, for example to change the embedding model. ``fields``
        names a dump's columns where they are not the common ones: ``{"text": "body"}``."""
        report = self.store.update([Path(p) for p in paths], progress=progress, rebuild=rebuild, fields=fields)
        log.info("indexed %s: %s", [str(p) for p in paths], report.to_dict())
        return report

    def remove(self, doc_ids: list[str]) -> IndexReport:
        """Take these documents out of the index; their files are left alone, and ids the index does
        not hold are ignored."""
        report = self.store.remove(list(doc_ids))
        log.info("removed %s: %s", list(doc_ids), report.to_dict())
        return report

    def retrieve(self, question: str, k: int | None = None, **filters: Any) -> list[SentenceHit]:
        """The ``k`` sentences that best answer ``question``, best first; ``since``, ``until`` and
        ``sources`` as in ``ask``."""
        return self.search(question, k, **filters).hits

    def search(
        self,
        question: str,
        k: int | None = None,
        *,
        since: str | None = None,
        until: str | None = None,
        sources: Iterable[str] | None = None,
    ) -> Retrieval:
        """As ``retrieve``, with the question as it was searched: an English question's German form."""
        question = self.check_question(question)
        k = self.settings.top_k if k is None else k
        if not 1 <= k <= 100:
            raise QuestionError(f"k must be between 1 and 100, not {k}")
        article_filter = self.article_filter(since, until, sources)
        query = self.search_query(question)
        started = time.perf_counter()
        hits = self.retriever.retrieve(question, k, article_filter, query.german)
        log.debug("retrieved %d hits in %.1f ms", len(hits), 1000 * (time.perf_counter() - started))
        return Retrieval(query, hits)

    def article_filter(
        self, since: str | None = None, until: str | None = None, sources: Iterable[str] | None = None
    ) -> ArticleFilter | None:
        """The filter of these dates and outlets as a user typed them; None when they filter nothing.
        ``FilterError`` when a date cannot be read, or when no indexed article matches (the message
        says what the index holds)."""
        article_filter = ArticleFilter.parse(since, until, sources)
        if article_filter.is_empty:
            return None
        snapshot = self.store.snapshot()
        allowed = snapshot.allowed(article_filter)
        if allowed is None or not allowed.chunk_count:
            raise no_match(article_filter, list(snapshot.documents.values()))
        try:
            self.store.ensure_filter_metadata()
        except UserError as error:
            raise FilterError(
                f"the index in {self.store.location} predates filters by date and outlet and cannot be "
                f"brought up to date now ({error}); run 'qa index' on it again"
            ) from error
        return article_filter

    def outlets(self) -> list[Outlet]:
        """The outlets of the indexed articles with their article counts, sorted by name."""
        return outlets(self.store.documents.values())

    def date_span(self) -> DateSpan:
        """The earliest and latest date of the indexed articles, and how many have no date."""
        return date_span(self.store.documents.values())

    def documents(self) -> Mapping[str, Document]:
        """The indexed articles by id, as the index holds them now."""
        return self.store.documents

    def is_empty(self) -> bool:
        return self.store.is_empty()

    def check_question(self, question: Any) -> str:
        """The question without surrounding white space; ``QuestionError`` when it cannot be asked."""
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("the question is empty; type a question")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionError(f"the question has {len(question)} characters; the limit is {limit}")
        return question.strip()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _timed(function: Any) -> float:
    started = time.perf_counter()
    function()
    return round(time.perf_counter() - started, 2)


def _check_sentences(sentences: Any) -> int:
    if isinstance(sentences, bool) or not isinstance(sentences, int) or not 1 <= sentences <= _MAX_SENTENCES:
        raise QuestionError(f"the model can read 1 to {_MAX_SENTENCES} sentences per question, not {sentences}")
    return sentences


def open_engine(
    corpus: str | Path | None = None,
    index_dir: str | Path | None = None,
    chat_model: ChatModel | None = None,
    **settings: Any,
) -> Engine:
    """Open the index in ``index_dir`` and bring it up to date with ``corpus`` when one is given.

    With no corpus and an empty index, the default corpus (the seeds) is indexed first, so a fresh
    ``open_engine()`` can answer at once. ``chat_model`` is a ready LLM backend to use instead of the
    one the settings describe (``llm=...`` and the other settings choose one by configuration).
    """
    resolved = Settings.load(index_dir=index_dir, corpus=corpus, **settings)
    engine = Engine(resolved, chat_model=chat_model)
    if corpus is not None or engine.is_empty():
        engine.index([resolved.corpus])
    return engine
