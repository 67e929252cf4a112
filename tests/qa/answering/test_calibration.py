"""The answer calibrator: fitted on evaluation rows, measured on rows it did not see, kept as plain
numbers and read back without scikit-learn."""

import json
import random

import pytest

from qa.answering.calibration import FEATURES, Calibrator, features
from qa.evaluation.calibrate import auroc, calibrate, examples, fit
from tests.qa.answering.conftest import JudgingModel, answerer, reply, run


def row(judge: float, fits: bool, right: bool, language: str = "de", answerable: bool = True) -> dict:
    return {
        "language": language,
        "signals": {"judge": judge, "type_fits": float(fits), "type_checked": 1.0, "retrieval_score": 0.85},
        "expected": {"answerable": answerable},
        "draft_metrics": {"correct": right},
    }


def rows(seed: int, n: int = 200) -> list[dict]:
    """Drafts whose rightness follows the judge and the type check, with noise."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        judge, fits = rng.random(), rng.random() > 0.3
        right = rng.random() < (0.1 + 0.8 * judge) * (1.0 if fits else 0.3)
        out.append(row(judge, fits, right, rng.choice(["de", "en"])))
    return out


def test_a_draft_without_signals_or_to_an_unanswerable_question_counts_as_it_should():
    data = examples(
        [row(0.9, True, True), row(0.9, True, True, answerable=False), {**row(0.9, True, True), "signals": {}}]
    )
    assert len(data) == 2 and list(data.y) == [1.0, 0.0]
    assert data.names == list(FEATURES)


def test_it_tells_right_from_wrong_on_rows_it_was_not_fitted_on():
    calibrator = fit(examples(rows(1)), ["synthetic"])
    measured = auroc(calibrator, examples(rows(2)))
    assert measured is not None and measured > 0.75
    assert calibrator.weights["judge"] > 0 and calibrator.weights["type_fits"] > 0
    sure, doubtful = (calibrator.probability(row(j, True, True)["signals"], "de") for j in (0.95, 0.05))
    assert 0.0 < doubtful < sure < 1.0


def test_a_constant_signal_or_one_kind_of_draft_is_handled():
    with pytest.raises(ValueError, match="nothing to tell apart"):
        fit(examples([row(0.5, True, True)] * 5), ["one kind"])
    assert auroc(fit(examples(rows(3)), ["x"]), examples([row(0.5, True, True)])) is None


def test_it_is_kept_as_plain_numbers_and_read_back(tmp_path):
    fit_dir, test_dir = tmp_path / "fit", tmp_path / "test"
    for folder, seed in ((fit_dir, 4), (test_dir, 5)):
        folder.mkdir()
        (folder / "predictions.jsonl").write_text("\n".join(json.dumps(r) for r in rows(seed)) + "\n")
    report = calibrate([fit_dir], [test_dir])
    assert set(report.auroc) == {"fit", "test"} and report.calibrator.auroc == report.auroc
    assert sum(report.counts["test"]) == 200
    report.calibrator.save(tmp_path / "calibrator.json")
    loaded = Calibrator.load(tmp_path / "calibrator.json")
    assert loaded == report.calibrator
    signals = rows(6)[0]["signals"]
    assert loaded.probability(signals, "en") == report.calibrator.probability(signals, "en")


def test_missing_signals_take_their_defaults():
    values = features({"judge": 0.7}, "en")
    assert values["judge"] == 0.7 and values["english"] == 1.0 and values["type_fits"] == FEATURES["type_fits"]


def test_the_chain_decides_by_the_calibrator_it_is_given(tmp_path):
    """A calibrator that trusts the judge: a draft the judge doubts is withheld, with the
    calibrator's probability as its confidence."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "predictions.jsonl").write_text("\n".join(json.dumps(r) for r in rows(7)) + "\n")
    path = tmp_path / "calibrator.json"
    calibrate([folder]).calibrator.save(path)
    for judge, shown in ((0.95, True), (0.05, False)):
        model = JudgingModel(judge, reply("Rund eine Stunde."))
        _, answer, _ = run(answerer(model, calibrator=str(path), min_calibrated=0.5), "Wie lange traf Lawrow Kim?")
        drafted = answer if shown else answer.withheld
        assert answer.answerable is shown and drafted is not None
        assert answer.confidence == Calibrator.load(path).probability(answer.signals, "de")
        assert answer.signals["verifier_confidence"] == pytest.approx(judge)


def test_a_calibrator_that_cannot_be_read_is_one_clear_error(tmp_path):
    from qa.answering.calibration import CalibratorError, load_calibrator

    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(CalibratorError, match="cannot be read"):
        load_calibrator(str(tmp_path / "broken.json"))
