"""Hybrid retrieval in two stages.

1. Recall: chunks ranked three ways (dense chunk similarity, the chunks of the most similar
   sentences, BM25 with German stems) and fused by reciprocal rank.
2. Citation: the sentences of the best chunks ranked by their own similarity to the question, with
   small bonuses for BM25 overlap and for the rank of their chunk.

The sentence's own similarity dominates the second stage on purpose: on the seed questions, rank
fusion at that stage let long, name-heavy sentences of a top chunk push the answering sentence out
of the top 3, while the sentence similarity ranked it first. ``score`` is therefore close to a
cosine similarity, which keeps it usable as an abstention threshold.

A statement that several articles print (near-duplicate sentences, grouped at indexing) is returned
once: its best-scoring sentence, with the others in ``also``, so the model does not read one fact
three times and a reader can still open each copy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import KW_ONLY, asdict, dataclass
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np

from index.documents import Document
from index.embeddings import embed_query
from index.lexical import analyse_query
from index.located import LocatedSentence
from index.snapshot import AllowedRows, DocumentFilter, RowVectors, Snapshot, best_first
from index.vectors import CHUNKS, SENTENCES

if TYPE_CHECKING:
    from index.store import Index


@dataclass(frozen=True, slots=True)
class SentenceHit(LocatedSentence):
    """A sentence retrieval found for a question, with how well it matched."""

    #: The rank score: the similarity with the small BM25 and chunk-rank bonuses.
    score: float
    #: Cosine similarity to the question (the mean over its forms).
    similarity: float
    #: BM25 over the question's words.
    lexical: float
    _: KW_ONLY
    #: The sentence's id in the vector store.
    vector_id: str = ""
    #: The same statement in other articles (near-duplicate sentences), best first.
    also: tuple[LocatedSentence, ...] = ()

    def to_dict(self) -> dict:
        """Plain JSON data: ``also`` as a list of dicts, as it reads back from JSON."""
        data = asdict(self)
        data["also"] = list(data["also"])
        return data


#: Copies listed per hit: a line of boilerplate that hundreds of articles share lists the first ones.
MAX_COPIES = 20
#: A filter that admits at most this many chunks (or sentences) is searched exactly over their
#: vectors, which the snapshot keeps; a larger one, and no filter, by the vector store's approximate
#: search. 20,000 vectors are 30 MB and one product with the question's vector, a few milliseconds.
EXACT_ROWS = 20_000
#: A filtered approximate search asks for this many times the entries the filter's share needs.
_DEPTH_MARGIN = 4
#: A filter that would send the approximate search deeper than this (it admits a small share of a
#: large index) is searched exactly up to ``_WIDE_EXACT`` times ``exact_rows`` entries.
_MAX_DEPTH = 8192
_WIDE_EXACT = 4


class HybridRetriever:
    """Retrieval over one index (``Index.retriever()`` builds it): each question is answered from
    the index's current snapshot, taken once for the whole question."""

    def __init__(
        self,
        index: Index,
        candidate_chunks: int = 8,
        rrf_k: int = 60,
        lexical_weight: float = 0.02,
        context_weight: float = 0.01,
        exact_rows: int = EXACT_ROWS,
    ):
        self.index = index
        self.candidate_chunks = candidate_chunks
        self.rrf_k = rrf_k
        self.lexical_weight = lexical_weight
        self.context_weight = context_weight
        self.exact_rows = exact_rows

    def retrieve(
        self,
        question: str,
        k: int,
        filter: DocumentFilter | None = None,
        german: str | None = None,
        *,
        following: bool = False,
    ) -> list[SentenceHit]:
        """The ``k`` best sentences; with ``filter``, only from the articles it admits. The filter is
        applied to every ranking before its best are taken (exact search over the admitted vectors, or
        a search deep enough to hold the admitted ones, and masked BM25 scores), so a filtered question
        gets ``k`` sentences as long as the admitted articles hold them. ``german``
        is the question's German form, for a question asked in another language: it is searched
        beside the question (``qa.crosslingual``). ``following`` adds the sentence after the best
        one: news sentences often finish their thought in the next one ("Dabei sei es um
        militärische Zusammenarbeit … gegangen.")."""
        snapshot = self.index.snapshot()
        hits = self._retrieve(snapshot, question, k, filter, german)
        after = _following(snapshot, hits[0], filter) if following and hits else None
        if after is not None and after.vector_id not in _shown(snapshot, hits):  # nor a copy of one offered
            hits.append(after)
        return hits

    def following(self, hit: SentenceHit, filter: DocumentFilter | None = None) -> SentenceHit | None:
        """The sentence after ``hit`` in its document; None where there is none, or where ``filter``
        does not admit its article."""
        return _following(self.index.snapshot(), hit, filter)

    def _retrieve(
        self, snapshot: Snapshot, question: str, k: int, filter: DocumentFilter | None, german: str | None
    ) -> list[SentenceHit]:
        allowed = snapshot.allowed(filter)
        if not snapshot.chunks or (allowed is not None and not allowed.chunk_count):
            return []
        forms = [question] if german is None else [question, german]
        embedder = self.index.embedder
        query_vectors = [embed_query(embedder, form) for form in forms]
        query_tokens = analyse_query(" ".join(forms))
        depth = max(4 * self.candidate_chunks, 2 * k, 20)
        sentence_matches = [
            dict(self._dense(snapshot, SENTENCES, vector, 3 * depth, filter, allowed)) for vector in query_vectors
        ]
        candidates = self._recall_chunks(
            snapshot, query_vectors, query_tokens, sentence_matches, depth, filter, allowed
        )
        exact = None  # the admitted sentences' vectors, where the filter is small enough to keep them
        if filter is not None and allowed is not None and allowed.sentence_count <= self.exact_rows:
            exact = self._admitted_vectors(snapshot, SENTENCES, filter, allowed)
        return self._rank_sentences(snapshot, candidates, query_vectors, query_tokens, sentence_matches, k, exact)

    def _recall_chunks(
        self,
        snapshot: Snapshot,
        query_vectors: list[np.ndarray],
        query_tokens: list[str],
        sentence_matches: list[dict[int, float]],
        depth: int,
        filter: DocumentFilter | None = None,
        allowed: AllowedRows | None = None,
    ) -> list[int]:
        """The best chunks by rank fusion of, for each form of the question, its dense chunks and the
        chunks of its most similar sentences, and of BM25 over the words of all forms."""
        rankings = []
        for vector, matches in zip(query_vectors, sentence_matches, strict=True):
            nearest = self._dense(snapshot, CHUNKS, vector, depth, filter, allowed)
            rankings.append([row for row, _ in nearest])
            rankings.append(list(dict.fromkeys(snapshot.sentences[row].chunk_row for row in matches)))
        scores = snapshot.chunk_lexical.scores(query_tokens)
        if allowed is not None:  # chunks of other articles score nothing, before the best are taken
            scores = np.where(allowed.chunks, scores, 0.0)
        rankings.append(_top(scores, depth))
        return list(self._fuse(rankings))[: self.candidate_chunks]

    def _rank_sentences(
        self,
        snapshot: Snapshot,
        candidates: list[int],
        query_vectors: list[np.ndarray],
        query_tokens: list[str],
        sentence_matches: list[dict[int, float]],
        k: int,
        exact: RowVectors | None = None,
    ) -> list[SentenceHit]:
        """The sentences of the candidate chunks by their similarity to the question (the mean over its
        forms), with the small BM25 and chunk-rank bonuses."""
        rows = [row for chunk in candidates for row in snapshot.chunk_sentence_rows[chunk]]
        similarity = self._similarities(snapshot, rows, sentence_matches, query_vectors, exact)
        lexical = snapshot.sentence_lexical.scores(query_tokens)
        lexical_max = max(float(lexical[rows].max()), 1e-9)
        position = {chunk: i for i, chunk in enumerate(candidates)}
        scores = {
            row: similarity[row]
            + self.lexical_weight * float(lexical[row]) / lexical_max
            + self.context_weight * (1 - position[snapshot.sentences[row].chunk_row] / len(candidates))
            for row in rows
        }
        hits: list[SentenceHit] = []
        seen: set[tuple[str, str]] = set()
        shown: set[int] = set()
        for row in sorted(rows, key=lambda r: -scores[r]):
            group = snapshot.group_of(row)
            if group in shown:  # a copy of a better-scoring sentence, listed in that one's ``also``
                continue
            hit = _hit(snapshot, row, scores[row], similarity[row], float(lexical[row]), _copies(snapshot, row, scores))
            if (hit.doc_id, hit.sentence) not in seen:
                seen.add((hit.doc_id, hit.sentence))
                shown.add(group)
                hits.append(hit)
            if len(hits) == k:
                break
        return hits

    def _dense(
        self,
        snapshot: Snapshot,
        kind: str,
        vector: np.ndarray,
        n: int,
        filter: DocumentFilter | None = None,
        allowed: AllowedRows | None = None,
    ) -> list[tuple[int, float]]:
        """The ``n`` nearest live entries; with a filter, of the articles it admits. A filter that admits
        few entries of the kind (``_exact``) is searched exactly, over their vectors
        (``_admitted_vectors``). No filter, or a larger one, goes to the vector store's approximate
        search, without its ``where``: Chroma evaluates a date range over every entry's metadata on
        each question (a second per question at 130,000 sentences), while a filter that admits a share
        of the entries finds its ``n`` among the nearest ``n / share``, taken by the row mask. Vectors of
        an interrupted run that the document store does not know are skipped; where they (or entries
        the filter does not admit) crowd the first page, a deeper page is fetched."""
        rows = snapshot.chunk_row if kind == CHUNKS else snapshot.sentence_row
        mask = _mask(allowed, kind)
        admitted = len(rows) if allowed is None else _count(allowed, kind)
        wanted = min(n, admitted)
        if wanted <= 0:
            return []
        depth = n if mask is None else min(len(rows), math.ceil(_DEPTH_MARGIN * n * len(rows) / admitted))
        if filter is not None and allowed is not None and self._exact(admitted, depth):
            return self._admitted_vectors(snapshot, kind, filter, allowed).nearest(vector, wanted)
        n = depth  # with a filter: deep enough to hold n admitted entries, with a margin
        while True:
            matches = self.index.vectors.query(kind, vector, n)
            found = ((rows[m.id], m.similarity) for m in matches if m.id in rows)
            live = [(row, similarity) for row, similarity in found if mask is None or mask[row]]
            if len(live) >= wanted or len(matches) < n:
                return live[:wanted]
            n *= 4

    def _exact(self, admitted: int, depth: int) -> bool:
        """Whether a filter that admits ``admitted`` entries of a kind is searched exactly, where the
        approximate search would ask for the nearest ``depth``."""
        return admitted <= self.exact_rows or (depth > _MAX_DEPTH and admitted <= _WIDE_EXACT * self.exact_rows)

    def _admitted_vectors(
        self, snapshot: Snapshot, kind: str, filter: DocumentFilter, allowed: AllowedRows
    ) -> RowVectors:
        """The unit vectors of the ``kind`` rows the filter admits: read from the vector store on the
        filter's first question, then kept by the snapshot."""

        def load() -> RowVectors:
            admitted = np.flatnonzero(_mask(allowed, kind))
            if kind == CHUNKS:
                ids = [snapshot.chunks[row].chunk_id for row in admitted]
            else:
                ids = [snapshot.sentences[row].vector_id for row in admitted]
            stored = self.index.vectors.vectors(kind, ids)
            held = [i for i, id_ in enumerate(ids) if id_ in stored]
            if not held:
                return RowVectors(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))
            matrix = np.stack([stored[ids[i]] for i in held]).astype(np.float32, copy=False)
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
            return RowVectors(admitted[held].astype(np.int64), matrix)

        return snapshot.row_vectors(kind, filter, load)

    def _fuse(self, rankings: Iterable[list[int]]) -> dict[int, float]:
        """Reciprocal rank fusion: sum of 1 / (k + rank) over the rankings an item appears in."""
        scores: dict[int, float] = {}
        for ranking in rankings:
            for rank, item in enumerate(ranking, start=1):
                scores[item] = scores.get(item, 0.0) + 1.0 / (self.rrf_k + rank)
        return dict(sorted(scores.items(), key=lambda kv: -kv[1]))

    def _similarities(
        self,
        snapshot: Snapshot,
        rows: list[int],
        known: list[dict[int, float]],
        query_vectors: list[np.ndarray],
        exact: RowVectors | None = None,
    ) -> dict[int, float]:
        """Each row's similarity to the question, the mean over its forms: from the dense searches where
        they scored the row, else from its vector (kept by ``exact``, or read from the vector store),
        fetched once for all forms."""
        missing = [r for r in rows if any(r not in matches for matches in known)]
        fetched = exact.lookup(missing) if exact is not None else {}
        stored = self.index.vectors.vectors(
            SENTENCES, [snapshot.sentences[r].vector_id for r in missing if r not in fetched]
        )
        fetched |= {snapshot.sentence_row[v]: vector for v, vector in stored.items()}
        similarity = {}
        for row in rows:
            values = [
                matches[row] if row in matches else float(fetched[row] @ vector) if row in fetched else 0.0
                for matches, vector in zip(known, query_vectors, strict=True)
            ]
            similarity[row] = sum(values) / len(values)
        return similarity


def _mask(allowed: AllowedRows | None, kind: str) -> np.ndarray | None:
    if allowed is None:
        return None
    return allowed.chunks if kind == CHUNKS else allowed.sentences


def _count(allowed: AllowedRows, kind: str) -> int:
    return allowed.chunk_count if kind == CHUNKS else allowed.sentence_count


def _top(scores: np.ndarray, n: int) -> list[int]:
    """The rows of the ``n`` best positive scores, best first (ties by row)."""
    return [int(i) for i in best_first(scores, n) if scores[i] > 0]


def _following(snapshot: Snapshot, hit: SentenceHit, filter: DocumentFilter | None) -> SentenceHit | None:
    """The sentence after ``hit`` in its document; None where there is none, or where ``filter`` does
    not admit its article."""
    row = snapshot.sentence_row.get(hit.vector_id)
    if row is None or row + 1 >= len(snapshot.sentences) or snapshot.sentences[row + 1].doc_id != hit.doc_id:
        return None
    allowed = snapshot.allowed(filter)
    if allowed is not None and not allowed.sentences[row + 1]:
        return None
    return _hit(snapshot, row + 1, hit.score, hit.similarity, 0.0, _copies(snapshot, row + 1))


def _shown(snapshot: Snapshot, hits: list[SentenceHit]) -> set[str]:
    """The vector ids of ``hits`` and of their copies."""
    shown = {hit.vector_id for hit in hits}
    for hit in hits:
        row = snapshot.sentence_row.get(hit.vector_id)
        if row is not None:
            shown.update(snapshot.sentences[member].vector_id for member in snapshot.members(row))
    return shown


def _copies(snapshot: Snapshot, row: int, scores: dict[int, float] | None = None) -> tuple[LocatedSentence, ...]:
    """The other sentences of ``row``'s group: those ranked for this question best first, then the
    rest in index order; at most ``MAX_COPIES``. A group of boilerplate holds thousands of rows, so
    only the first ones are looked at."""
    scores = scores or {}
    group = snapshot.group_of(row)
    ranked = sorted(
        (other for other in scores if other != row and snapshot.group_of(other) == group),
        key=lambda other: (-scores[other], other),
    )[:MAX_COPIES]
    rest = (other for other in snapshot.members(row) if other != row and other not in scores)
    others = ranked + list(islice(rest, MAX_COPIES - len(ranked)))
    return tuple(LocatedSentence.of(*_where(snapshot, other)) for other in others)


def _where(snapshot: Snapshot, row: int) -> tuple[Document, int]:
    """The document and sentence index of the snapshot's sentence ``row``."""
    sentence_row = snapshot.sentences[row]
    return snapshot.documents[sentence_row.doc_id], sentence_row.index


def _hit(
    snapshot: Snapshot,
    row: int,
    score: float,
    similarity: float,
    lexical: float,
    also: tuple[LocatedSentence, ...] = (),
) -> SentenceHit:
    return SentenceHit.of(
        *_where(snapshot, row),
        score=round(score, 4),
        similarity=round(similarity, 4),
        lexical=round(lexical, 4),
        vector_id=snapshot.sentences[row].vector_id,
        also=also,
    )
