"""Which confidence tells right answers from wrong ones best, and what each threshold would do: an
analysis of ``qa eval`` runs (every draft answer records the verifier's signals).

    python benchmarks/verification.py RUN_DIR [RUN_DIR ...] [--formula NAME] [--threshold T]

Each draft (an answer given, or one the verifier withheld) carries the signals the answering chain
records while deciding it, computed in ``qa.answering.verify``: the LLM judge's P(yes) (``judge``;
runs that also asked it in the conversation that wrote the answer recorded ``judge_conversation``
and ``judge_sentences``), the model's probability of citing nothing when it chose its sources
(``doubt``), the share of the central claim's terms the cited sentences hold (``terms_found``), and
missing numbers, names and nouns (``facts_missing``). ``question_found`` (the share of the
question's names that the cited articles mention) needs the articles' whole texts, so the chain does
not compute it (unless a calibrator weighs it): ``qa eval`` adds it to each draft
(``qa.evaluation.signals``); runs from elsewhere may lack it, and the formulas then count it as 1.
A draft is right when it is correct and cites a gold sentence, and wrong (with citation) when it is
not correct or its question is unanswerable.

For each candidate formula the benchmark prints the AUROC (the chance that a right draft scores
above a wrong one) and the outcome of each threshold as ``qa eval`` would report it, per language:
wrong with citation (share of all questions), correct and gold-cited (of answerable ones),
abstained when unanswerable, and coverage. The policy is a pure function of the recorded signals,
so this is exactly what a run with that formula and threshold gives. The judges' cost is read from
the runs' timings. Writes benchmarks/results/verification.json and .md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import write_results  # noqa: E402

Signals = dict[str, float]


def _judge(kind: str) -> Callable[[Signals], float]:
    """The judge's P(yes): "judge" as the chain asks it (a prompt of its own; runs made with both
    judges recorded it as "judge_sentences"), or "conversation", one more turn of the conversation
    that wrote the answer, which such runs recorded too."""

    def score(s: Signals) -> float:
        if kind == "conversation":
            return s.get("judge_conversation", 1.0)
        return s.get("judge", s.get("judge_sentences", 1.0))

    return score


def _with(score: Callable[[Signals], float], doubt: bool, terms: bool, found: bool) -> Callable[[Signals], float]:
    def combined(s: Signals) -> float:
        value = score(s)
        if doubt:
            value *= 1.0 - s.get("doubt", 0.0)
        if terms:
            value *= s.get("terms_found", 1.0)
        if found:
            value *= s.get("question_found", 1.0)
        return value

    return combined


FORMULAS: dict[str, Callable[[Signals], float]] = {}
for _name, _score in [("judge", _judge("judge")), ("conversation", _judge("conversation")), ("1", lambda s: 1.0)]:
    FORMULAS[_name] = _score
    FORMULAS[f"{_name}×terms"] = _with(_score, doubt=False, terms=True, found=False)
    FORMULAS[f"{_name}×(1-doubt)×terms"] = _with(_score, doubt=True, terms=True, found=False)
    FORMULAS[f"{_name}×(1-doubt)×terms×found"] = _with(_score, doubt=True, terms=True, found=True)
    FORMULAS[f"{_name}×found"] = _with(_score, doubt=False, terms=False, found=True)
THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="folders of qa eval runs (predictions.jsonl)")
    parser.add_argument("--formula", default="judge×(1-doubt)×terms×found", choices=sorted(FORMULAS))
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    summary: dict[str, Any] = {"runs": [str(run) for run in args.runs]}
    rows: list[dict[str, Any]] = []
    for run in args.runs:
        questions = [json.loads(line) for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
        name = run.name
        drafts = [d for d in map(draft, questions) if d is not None]
        summary[f"{name}: drafts"] = len(drafts)
        for formula, score in FORMULAS.items():
            summary[f"{name}: auroc {formula}"] = {
                language: auroc([d for d in drafts if language in ("all", d["language"])], score)
                for language in ("all", "de", "en")
            }
        for kind in ("judge", "judge_conversation", "judge_sentences", "verify"):
            seconds = [q["timings"][kind] for q in questions if kind in (q.get("timings") or {})]
            if seconds:
                summary[f"{name}: {kind} seconds p50"] = round(statistics.median(seconds), 3)
        summary[f"{name}: at {args.formula} >= {args.threshold}"] = outcome(
            questions, FORMULAS[args.formula], args.threshold
        )
        for threshold in THRESHOLDS:
            rows.append(
                {"run": name, "formula": args.formula, "threshold": threshold}
                | flatten(outcome(questions, FORMULAS[args.formula], threshold))
            )
    write_results("verification", summary, rows)


def draft(question: dict[str, Any]) -> dict[str, Any] | None:
    metrics = question.get("draft_metrics")
    if not metrics or not question.get("signals"):
        return None
    answerable = question["expected"]["answerable"]
    return {
        "language": question["language"],
        "signals": question["signals"],
        "right": bool(answerable and metrics.get("correct_and_gold_cited")),
        "wrong": bool(not answerable or not metrics.get("correct")),
    }


def auroc(drafts: list[dict[str, Any]], score: Callable[[Signals], float]) -> float | None:
    """P(a right draft scores above a wrong one), ties counting half."""
    right = [score(d["signals"]) for d in drafts if d["right"]]
    wrong = [score(d["signals"]) for d in drafts if d["wrong"]]
    if not right or not wrong:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in right for b in wrong)
    return round(wins / (len(right) * len(wrong)), 3)


def outcome(questions: list[dict[str, Any]], score: Callable[[Signals], float], threshold: float) -> dict[str, Any]:
    """What ``qa eval`` reports when drafts are shown only where the score reaches the threshold and
    no number, name or noun of the central claim is missing."""
    result = {}
    for language in ("all", "de", "en"):
        group = [q for q in questions if language in ("all", q["language"])]
        answerable = [q for q in group if q["expected"]["answerable"]]
        shown = [q for q in group if _shown(q, score, threshold)]
        wrong = [q for q in shown if not q["expected"]["answerable"] or not q["draft_metrics"].get("correct")]
        right = [q for q in shown if q["expected"]["answerable"] and q["draft_metrics"].get("correct_and_gold_cited")]
        unanswerable = len(group) - len(answerable)
        result[language] = {
            "wrong_with_citation": _share(len(wrong), len(group)),
            "correct_and_gold_cited": _share(len(right), len(answerable)),
            "abstained_unanswerable": _share(
                unanswerable - sum(1 for q in shown if not q["expected"]["answerable"]), unanswerable
            ),
            "coverage": _share(sum(1 for q in shown if q["expected"]["answerable"]), len(answerable)),
        }
    return result


def _shown(question: dict[str, Any], score: Callable[[Signals], float], threshold: float) -> bool:
    signals = question.get("signals") or {}
    if not question.get("draft_metrics") or not signals:
        # No draft, or an answer from a run without signals: shown as the run showed it.
        return bool(question.get("draft_metrics")) and bool(question["answerable"])
    return signals.get("facts_missing", 0) == 0 and score(signals) >= threshold


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def flatten(outcome_: dict[str, Any]) -> dict[str, Any]:
    return {f"{language} {name}": value for language, figures in outcome_.items() for name, value in figures.items()}


if __name__ == "__main__":
    main()
