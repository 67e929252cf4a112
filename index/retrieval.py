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

from collections.abc import Iterable
from dataclasses import KW_ONLY, asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.documents import Document
from index.embeddings import embed_query
from index.lexical import analyse_query
from index.located import LocatedSentence
from index.snapshot import AllowedRows, DocumentFilter, Snapshot
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
    ):
        self.index = index
        self.candidate_chunks = candidate_chunks
        self.rrf_k = rrf_k
        self.lexical_weight = lexical_weight
        self.context_weight = context_weight

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
        applied before anything is ranked (the vector store's ``where``, masked BM25 scores), so a
        filtered question gets ``k`` sentences as long as the admitted articles hold them. ``german``
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
        where = filter.where() if filter is not None else None
        forms = [question] if german is None else [question, german]
        embedder = self.index.embedder
        query_vectors = [embed_query(embedder, form) for form in forms]
        query_tokens = analyse_query(" ".join(forms))
        depth = max(4 * self.candidate_chunks, 2 * k, 20)
        sentence_matches = [
            dict(self._dense(SENTENCES, vector, 3 * depth, snapshot.sentence_row, where, _mask(allowed, SENTENCES)))
            for vector in query_vectors
        ]
        candidates = self._recall_chunks(snapshot, query_vectors, query_tokens, sentence_matches, depth, where, allowed)
        return self._rank_sentences(snapshot, candidates, query_vectors, query_tokens, sentence_matches, k)

    def _recall_chunks(
        self,
        snapshot: Snapshot,
        query_vectors: list[np.ndarray],
        query_tokens: list[str],
        sentence_matches: list[dict[int, float]],
        depth: int,
        where: dict | None = None,
        allowed: AllowedRows | None = None,
    ) -> list[int]:
        """The best chunks by rank fusion of, for each form of the question, its dense chunks and the
        chunks of its most similar sentences, and of BM25 over the words of all forms."""
        rankings = []
        for vector, matches in zip(query_vectors, sentence_matches, strict=True):
            nearest = self._dense(CHUNKS, vector, depth, snapshot.chunk_row, where, _mask(allowed, CHUNKS))
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
    ) -> list[SentenceHit]:
        """The sentences of the candidate chunks by their similarity to the question (the mean over its
        forms), with the small BM25 and chunk-rank bonuses."""
        rows = [row for chunk in candidates for row in snapshot.chunk_sentence_rows[chunk]]
        similarity = self._similarities(snapshot, rows, sentence_matches, query_vectors)
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
        kind: str,
        vector: np.ndarray,
        n: int,
        rows: dict[str, int],
        where: dict | None = None,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Nearest live entries; with ``where``, only those the vector store's filter admits (and
        ``allowed``, the same filter as a row mask, confirms). Vectors of an interrupted run that the
        document store does not know are skipped; where they crowd the first page, a deeper page is
        fetched."""
        wanted = min(n, len(rows) if allowed is None else int(allowed.sum()))
        if wanted <= 0:
            return []
        while True:
            matches = self.index.vectors.query(kind, vector, n, where)
            found = ((rows[m.id], m.similarity) for m in matches if m.id in rows)
            live = [(row, similarity) for row, similarity in found if allowed is None or allowed[row]]
            if len(live) >= wanted or len(matches) < n:
                return live[:wanted]
            n *= 4

    def _fuse(self, rankings: Iterable[list[int]]) -> dict[int, float]:
        """Reciprocal rank fusion: sum of 1 / (k + rank) over the rankings an item appears in."""
        scores: dict[int, float] = {}
        for ranking in rankings:
            for rank, item in enumerate(ranking, start=1):
                scores[item] = scores.get(item, 0.0) + 1.0 / (self.rrf_k + rank)
        return dict(sorted(scores.items(), key=lambda kv: -kv[1]))

    def _similarities(
        self, snapshot: Snapshot, rows: list[int], known: list[dict[int, float]], query_vectors: list[np.ndarray]
    ) -> dict[int, float]:
        """Each row's similarity to the question, the mean over its forms: from the dense searches where
        they scored the row, else from its stored vector, fetched once for all forms."""
        missing = [snapshot.sentences[r].vector_id for r in rows if any(r not in matches for matches in known)]
        stored = self.index.vectors.vectors(SENTENCES, missing)
        fetched = {snapshot.sentence_row[v]: vector for v, vector in stored.items()}
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


def _top(scores: np.ndarray, n: int) -> list[int]:
    if scores.size == 0:
        return []
    order = np.argsort(-scores, kind="stable")[:n]
    return [int(i) for i in order if scores[i] > 0]


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
    rest in index order; at most ``MAX_COPIES``."""
    scores = scores or {}
    others = sorted(
        (other for other in snapshot.members(row) if other != row),
        key=lambda other: (other not in scores, -scores.get(other, 0.0), other),
    )
    return tuple(LocatedSentence.of(*_where(snapshot, other)) for other in others[:MAX_COPIES])


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
