"""The signals ``qa eval`` records for each draft beyond those the answering chain records.

The chain records with each draft the signals that come with deciding it: the terms found, the
judge's P(yes), the model's doubt and token log-probabilities (``qa.answering.verify``), and the
quote's, the type check's and retrieval's (``qa.answering.chain``). The signals read from the cited
articles' whole texts (``qa.answering.calibration.ARTICLE_FEATURES``) decide nothing without a
calibrator, so the chain leaves them out and needs no article text. The evaluation adds them here,
after each answer, with the function the chain uses for a calibrator that weighs them
(``article_signals``), so that ``qa calibrate`` and ``benchmarks/verification.py`` find every signal
in the predictions, with the values the chain would give:

- ``question_found``: the share of the question's names that the cited articles mention;
- ``subject_found``: the share of the German question's names in the sentence the answer was written
  from, the text just before it, and its article's title.
"""

from __future__ import annotations

from qa.answer import Answer
from qa.answering.calibration import ARTICLE_FEATURES, QUOTED_CITATION, ArticleText, article_signals


def draft_signals(answer: Answer, article_text: ArticleText | None = None) -> dict[str, float]:
    """Every signal of the answer's draft (the answer shown, or the one the verifier withheld): the
    chain's, and those read from the cited articles through ``article_text`` (doc_id → its title, a
    line break, its text); {} where nothing was drafted. Without ``article_text``, the chain's alone."""
    draft = answer if answer.answerable else answer.withheld
    if draft is None:
        return {}
    signals = dict(draft.signals)
    # A chain run with a calibrator computed those its calibrator weighs already.
    wanted = [name for name in ARTICLE_FEATURES if name not in signals]
    if article_text is None or not wanted or QUOTED_CITATION not in signals:
        return signals
    # The question as the chain compared it with the German sentences: its German form, if any.
    in_german = answer.searched_as or draft.question
    quoted = int(signals[QUOTED_CITATION])
    signals.update(article_signals(draft.question, in_german, draft.citations, quoted, article_text, wanted))
    return signals
