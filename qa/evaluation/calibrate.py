"""Fit the answer calibrator on evaluation runs, and measure it on runs it was not fitted on.

Each drafted answer of a run (shown or withheld) is one example: its signals are the inputs, and
whether the draft was right (``draft_metrics.correct``, the scoring of ``answer_correct``; a draft to
an unanswerable question is wrong) is the label. A calibrator is only worth shipping when it tells
right drafts from wrong ones on a question set it did not see: ``qa calibrate`` fits on one set of
runs and reports AUROC on the other, both ways.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.answering.calibration import FEATURES, Calibrator, features

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Examples:
    names: list[str]
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def read_runs(folders: Iterable[Path]) -> list[dict[str, Any]]:
    """The predictions of ``qa eval`` result folders (or ``predictions.jsonl`` files)."""
    rows = []
    for folder in folders:
        path = folder / "predictions.jsonl" if folder.is_dir() else folder
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def examples(rows: Sequence[dict[str, Any]]) -> Examples:
    """One example per drafted answer: its features, and 1 where the draft was right."""
    names = list(FEATURES)
    xs, ys = [], []
    for row in rows:
        draft = row.get("draft_metrics")
        if draft is None or not row.get("signals"):
            continue
        right = bool(row["expected"]["answerable"] and draft.get("correct"))
        values = features(row["signals"], row["language"])
        xs.append([values[name] for name in names])
        ys.append(1.0 if right else 0.0)
    return Examples(names, np.array(xs, dtype=float).reshape(-1, len(names)), np.array(ys))


def fit(train: Examples, fitted_on: list[str], c: float = 0.3) -> Calibrator:
    """A logistic regression over standardised features, L2-regularised (``c``: its inverse strength)."""
    from sklearn.linear_model import LogisticRegression

    if len(set(train.y)) < 2:
        raise ValueError("the runs hold only right or only wrong drafts: nothing to tell apart")
    means = train.x.mean(axis=0)
    scales = train.x.std(axis=0)
    scales[scales == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((train.x - means) / scales, train.y)
    return Calibrator(
        weights={n: round(float(w), 6) for n, w in zip(train.names, model.coef_[0], strict=True)},
        means={n: round(float(m), 6) for n, m in zip(train.names, means, strict=True)},
        scales={n: round(float(s), 6) for n, s in zip(train.names, scales, strict=True)},
        bias=round(float(model.intercept_[0]), 6),
        fitted_on=fitted_on,
        auroc={},
    )


def scores(calibrator: Calibrator, data: Examples) -> np.ndarray:
    return np.array(
        [calibrator.probability(dict(zip(data.names, row, strict=True)), "en" if row[-1] else "de") for row in data.x]
    )


def auroc(calibrator: Calibrator, data: Examples) -> float | None:
    """The chance that a right draft scores above a wrong one; None without both kinds."""
    if len(set(data.y)) < 2:
        return None
    s = scores(calibrator, data)
    right, wrong = s[data.y == 1], s[data.y == 0]
    wins = (right[:, None] > wrong[None, :]).sum() + 0.5 * (right[:, None] == wrong[None, :]).sum()
    return round(float(wins / (len(right) * len(wrong))), 4)


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    calibrator: Calibrator
    #: Drafts (right, wrong) per set of runs.
    counts: dict[str, tuple[int, int]]
    #: AUROC on the runs it was fitted on, and on the runs it was not.
    auroc: dict[str, float | None]


def calibrate(fit_runs: Sequence[Path], test_runs: Sequence[Path] = ()) -> CalibrationReport:
    """Fit on ``fit_runs``; measure on them and on ``test_runs`` (a question set it did not see)."""
    train = examples(read_runs(fit_runs))
    calibrator = fit(train, [str(path) for path in fit_runs])
    sets = {"fit": train}
    if test_runs:
        sets["test"] = examples(read_runs(test_runs))
    measured = {name: auroc(calibrator, data) for name, data in sets.items()}
    counts = {name: (int(data.y.sum()), int(len(data) - data.y.sum())) for name, data in sets.items()}
    return CalibrationReport(_with_auroc(calibrator, measured), counts, measured)


def _fields(calibrator: Calibrator) -> dict[str, Any]:
    return {name: getattr(calibrator, name) for name in Calibrator.__dataclass_fields__}


def _with_auroc(calibrator: Calibrator, measured: dict[str, float | None]) -> Calibrator:
    return Calibrator(**{**_fields(calibrator), "auroc": {k: v for k, v in measured.items() if v is not None}})
