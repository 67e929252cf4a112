"""Step 1: the sentences the model will read. The best ``k`` by hybrid retrieval, and the sentence
after the best one, which often finishes its thought ("Dabei sei es um militärische Zusammenarbeit
… gegangen.")."""

from __future__ import annotations

from qa.corpus import Corpus
from qa.retrieval import HybridRetriever, SentenceHit


def candidate_sentences(retriever: HybridRetriever, corpus: Corpus, question: str, k: int) -> list[SentenceHit]:
    hits = retriever.retrieve(corpus, question, k)
    after = retriever.following(corpus, hits[0]) if hits else None
    if after is not None and after.vector_id not in {h.vector_id for h in hits}:
        hits.append(after)
    return hits


def too_far(hits: list[SentenceHit], abstain_below: float) -> str | None:
    """Why no sentence is worth showing the model, or None when the best is close enough."""
    best = hits[0].score if hits else 0.0
    if best < abstain_below:
        return f"no sentence is close enough to the question (best {best:.3f} < {abstain_below})"
    return None
