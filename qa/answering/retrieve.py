"""Step 1: the sentences the model will read. The best ``k`` by hybrid retrieval, and the sentence
after the best one, which often finishes its thought ("Dabei sei es um militärische Zusammenarbeit
… gegangen.")."""

from __future__ import annotations

from qa.corpus import Corpus
from qa.filters import ArticleFilter
from qa.retrieval import HybridRetriever, SentenceHit


def candidate_sentences(
    retriever: HybridRetriever,
    corpus: Corpus,
    question: str,
    k: int,
    filter: ArticleFilter | None = None,
    german: str | None = None,
) -> list[SentenceHit]:
    """The ``k`` best sentences of the articles ``filter`` admits (all without one), and the one after
    the best; ``german`` is the question's German form, searched beside it."""
    hits = retriever.retrieve(corpus, question, k, filter, german)
    after = retriever.following(corpus, hits[0], filter) if hits else None
    shown = {h.vector_id for h in hits} | {corpus.sentences[r].vector_id for h in hits for r in _group(corpus, h)}
    if after is not None and after.vector_id not in shown:  # nor a copy of a sentence already offered
        hits.append(after)
    return hits


def _group(corpus: Corpus, hit: SentenceHit) -> tuple[int, ...]:
    row = corpus.sentence_row.get(hit.vector_id)
    return corpus.members(row) if row is not None else ()


def too_far(hits: list[SentenceHit], abstain_below: float) -> str | None:
    """Why no sentence is worth showing the model, or None when the best is close enough."""
    best = hits[0].score if hits else 0.0
    if best < abstain_below:
        return f"no sentence is close enough to the question (best {best:.3f} < {abstain_below})"
    return None
