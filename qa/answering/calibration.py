"""How likely a drafted answer is right, from cheap signals of the draft: a logistic model over the
measured inputs the chain records (``Answer.signals``: retrieval scores and the gap to the next
candidate, the model's token log-probabilities over the quote and the answer, the question's type and
whether the quote fits it, the subject found, the share of the answer's terms found, the judge's
P(yes)) and the question's language.

The weights are fitted by ``qa calibrate`` on evaluation runs (``qa.evaluation.calibrate``) and kept
in a JSON file (the setting ``calibrator``): plain numbers, read without scikit-learn.

Two features are read from the cited articles' whole texts, not from the draft (``ARTICLE_FEATURES``:
does the article name what the question asks about?). Without a calibrator they decide nothing, so
the answering chain computes them only for a calibrator that weighs them, and needs no article text
otherwise; ``qa eval`` computes them for every draft (``qa.evaluation.signals``), with the same
function, ``article_signals``, so that a calibrator is fitted on the values it will be given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from index.errors import UserError
from qa.answer import Citation
from qa.answering.asked import subject_found
from qa.answering.verify import question_found

#: The signals the calibrator reads, and the value each takes where the draft did not record it.
FEATURES: dict[str, float] = {
    "judge": 0.5,
    "terms_found": 1.0,
    "facts_missing": 0.0,
    "doubt": 0.0,
    "logprob_mean": -1.0,
    "logprob_min": -3.0,
    "quote_logprob_mean": -1.0,
    "quote_logprob_min": -3.0,
    "quote_words": 5.0,
    "quote_grown": 0.0,
    "type_checked": 0.0,
    "type_fits": 1.0,
    "subject_found": 1.0,
    "question_found": 1.0,
    "retrieval_score": 0.8,
    "retrieval_gap": 0.0,
    "retrieval_rank": 0.0,
    "english": 0.0,
}
#: The features read from the cited articles' whole texts (``article_signals``).
ARTICLE_FEATURES = ("question_found", "subject_found")
#: The signal the chain records with each draft: the position, among its citations, of the sentence
#: the answer was written from (its quote's); where ``subject_found`` looks.
QUOTED_CITATION = "quoted_citation"
#: The text of an article by its id, as the engine gives it: its title, a line break, its text.
ArticleText = Callable[[str], str]
#: How much of the article before the quoted sentence is searched for the question's subject.
_BEFORE = 300


@dataclass(frozen=True, slots=True)
class Calibrator:
    """``P(right) = 1 / (1 + exp(-(bias + Σ weight × (value - mean) / scale)))`` over ``FEATURES``."""

    weights: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    bias: float
    #: Where the weights were fitted, and how well they told right from wrong on a set they were not
    #: fitted on (AUROC), for people reading the file.
    fitted_on: list[str]
    auroc: dict[str, float]

    def probability(self, signals: Mapping[str, float], language: str) -> float:
        values = features(signals, language)
        z = self.bias + sum(
            self.weights[name] * (values[name] - self.means[name]) / (self.scales[name] or 1.0) for name in self.weights
        )
        return round(1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z)))), 4)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        """The calibrator kept in ``path``; ``CalibratorError`` when it cannot be read."""
        try:
            return cls(**json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as error:
            raise CalibratorError(
                f"the calibrator {path} cannot be read ({error}); write it with qa calibrate --out"
            ) from error


def features(signals: Mapping[str, float], language: str) -> dict[str, float]:
    """The calibrator's inputs for one draft: its signals, with defaults where it has none."""
    values = {name: float(signals.get(name, default)) for name, default in FEATURES.items()}
    values["english"] = float(language == "en")
    return values


def article_signals(
    question: str,
    in_german: str,
    citations: Sequence[Citation],
    quoted: int,
    article: ArticleText | None,
    wanted: Collection[str] = ARTICLE_FEATURES,
) -> dict[str, float]:
    """The features of ``ARTICLE_FEATURES`` that are ``wanted``, for a draft that answers ``question``
    (``in_german``: its German form, the question itself when it is German) with ``citations``, of
    which ``citations[quoted]`` is the sentence the answer was written from:

    - ``question_found``: the share of the question's names that the cited articles mention
      (``qa.answering.verify.question_found``); left out without ``article``;
    - ``subject_found``: the share of the German question's names in the quoted sentence, the text
      of its article just before it (none without ``article``) and its article's title
      (``qa.answering.asked.subject_found``); 1 for a question without names.
    """
    signals: dict[str, float] = {}
    if "question_found" in wanted and article is not None and citations:
        texts = [article(doc_id) for doc_id in dict.fromkeys(c.doc_id for c in citations)]
        signals["question_found"] = round(question_found(question, texts), 4)
    if "subject_found" in wanted and 0 <= quoted < len(citations):
        cited = citations[quoted]
        # ``start`` is an offset in the article's text, and ``article`` puts the title before it: the
        # window ends that many characters short of the sentence. Kept, so values match earlier runs.
        before = article(cited.doc_id)[max(0, cited.start - _BEFORE) : cited.start] if article is not None else ""
        subject = subject_found(in_german, f"{cited.title} {before} {cited.sentence}")
        signals["subject_found"] = subject if subject is not None else 1.0
    return signals


class CalibratorError(UserError):
    """The calibrator file is missing or damaged."""


@cache
def load_calibrator(path: str) -> Calibrator:
    """The calibrator of the setting ``calibrator``, read once."""
    return Calibrator.load(Path(path))
