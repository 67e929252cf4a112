"""Step 1: the sentences the model will read: the best ``k`` by hybrid retrieval and the sentence
after the best one (``HybridRetriever.retrieve(..., following=True)``), unless none is close enough."""

from __future__ import annotations

from index.retrieval import SentenceHit


def too_far(hits: list[SentenceHit], abstain_below: float) -> str | None:
    """Why no sentence is worth showing the model, or None when the best is close enough."""
    best = hits[0].score if hits else 0.0
    if best < abstain_below:
        return f"no sentence is close enough to the question (best {best:.3f} < {abstain_below})"
    return None
