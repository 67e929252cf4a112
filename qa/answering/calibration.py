"""How likely a drafted answer is right, from cheap signals of the draft: a logistic model over the
measured inputs the chain records (``Answer.signals``: retrieval scores and the gap to the next
candidate, the model's token log-probabilities over the quote and the answer, the question's type and
whether the quote fits it, the subject found, the share of the answer's terms found, the judge's
P(yes)) and the question's language.

The weights are fitted by ``qa calibrate`` on evaluation runs (``qa.evaluation.calibrate``) and kept
in a JSON file (the setting ``calibrator``): plain numbers, read without scikit-learn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from index.errors import UserError

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


class CalibratorError(UserError):
    """The calibrator file is missing or damaged."""


@cache
def load_calibrator(path: str) -> Calibrator:
    """The calibrator of the setting ``calibrator``, read once."""
    return Calibrator.load(Path(path))
