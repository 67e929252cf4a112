"""Write an evaluation's results: ``predictions.jsonl``, ``metrics.json``, ``report.md`` and
``chart.png``, each replaced whole, so a folder never holds half of one run and half of another."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.evaluation.charts import draw_chart
from qa.evaluation.metrics import risk_coverage_by_language
from qa.evaluation.pairs import PAIR_FIGURES

#: (label, key, kind) of the figures in the summary and the report; "rate" shows as a percentage.
FIGURES = (
    ("Correct answer", "accuracy", "rate"),
    ("Correct and a gold sentence cited", "correct_and_gold_cited", "rate"),
    ("Wrong with citation (of all)", "wrong_with_citation", "rate"),
    ("  of it: wrong sentence cited", "wrong_sentence_cited", "rate"),
    ("  of it: gold cited, misread", "gold_cited_misread", "rate"),
    ("  of it: unanswerable answered", "unanswerable_answered", "rate"),
    ("Answered precision", "answered_precision", "rate"),
    ("Coverage (answerable answered)", "coverage", "rate"),
    ("Token F1", "token_f1", "rate"),
    ("Gold-sentence recall", "gold_sentence_recall", "rate"),
    ("Citation precision", "citation_precision", "rate"),
    ("Cited-document precision", "cited_doc_precision", "rate"),
    ("Cited-document recall", "cited_doc_recall", "rate"),
    ("Abstained when unanswerable", "abstention_accuracy", "rate"),
    ("Abstained when answerable", "false_abstention_rate", "rate"),
    ("Answer in the question's language", "language_match", "rate"),
    ("Retrieval recall@1", "retrieval_recall@1", "rate"),
    ("Retrieval recall@3", "retrieval_recall@3", "rate"),
    ("Retrieval recall@5", "retrieval_recall@5", "rate"),
    ("Retrieval recall@10", "retrieval_recall@10", "rate"),
    ("Seconds per answer, median", "latency_p50", "seconds"),
    ("Seconds per answer, 95th percentile", "latency_p95", "seconds"),
    ("First streamed text, median", "first_token_p50", "seconds"),
    ("First streamed text, 95th percentile", "first_token_p95", "seconds"),
)
#: Figures the report shows and the one-screen summary leaves out.
REPORT_ONLY = frozenset({"retrieval_recall@5", "first_token_p95"})
_ARTICLE_COLUMNS = (
    ("Questions", "questions"),
    ("Correct", "accuracy"),
    ("Correct + gold cited", "correct_and_gold_cited"),
    ("Citation precision", "citation_precision"),
    ("Recall@3", "retrieval_recall@3"),
)
_PAIR_LABELS = {
    "retrieval_recall@1": "Retrieval recall@1",
    "retrieval_recall@3": "Retrieval recall@3",
    "retrieval_recall@10": "Retrieval recall@10",
    "correct_and_gold_cited": "Correct and a gold sentence cited",
}
WORST = 10
#: The minimum confidences the report's risk table shows, besides the run's own.
RISK_THRESHOLDS = tuple(i / 10 for i in range(10))


@dataclass(frozen=True, slots=True)
class ResultFiles:
    predictions: Path
    metrics: Path
    report: Path
    chart: Path


def write_results(
    out_dir: Path, predictions: list[dict[str, Any]], metrics: dict[str, Any], run: dict[str, Any]
) -> ResultFiles:
    """``run`` describes the run: model, settings, question file, corpus, date, article titles."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ResultFiles(
        out_dir / "predictions.jsonl", out_dir / "metrics.json", out_dir / "report.md", out_dir / "chart.png"
    )
    _replace(files.predictions, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions))
    _replace(files.metrics, json.dumps({"run": run, **metrics}, ensure_ascii=False, indent=2) + "\n")
    title = f"{run.get('questions_file', '')} · {run.get('model', '')}"
    draw_chart(metrics, predictions, files.chart, title, operating_threshold(run))
    _replace(files.report, render_report(predictions, metrics, run, files.chart.name))
    return files


def summary_text(metrics: dict[str, Any], files: ResultFiles | None = None) -> str:
    """One screen: the figures overall and per language, and where the files are."""
    languages = list(metrics["by_language"])
    header = f"{'':38}{'all':>9}" + "".join(f"{lang:>9}" for lang in languages)
    overall = metrics["overall"]
    lines = [
        f"{overall['questions']} questions: {overall['answerable']} answerable, {overall['unanswerable']} unanswerable",
        header,
    ]
    for label, key, kind in FIGURES:
        if key in REPORT_ONLY:
            continue
        values = [overall.get(key), *(metrics["by_language"][lang].get(key) for lang in languages)]
        lines.append(f"{label:38}" + "".join(f"{_format(v, kind):>9}" for v in values))
    lines += _pair_lines(metrics)
    if files is not None:
        lines.append(f"Report: {files.report}   chart: {files.chart}")
        lines.append(f"Predictions: {files.predictions}   metrics: {files.metrics}")
    return "\n".join(lines)


def render_report(
    predictions: list[dict[str, Any]], metrics: dict[str, Any], run: dict[str, Any], chart_name: str
) -> str:
    overall = metrics["overall"]
    lines = [
        "# Evaluation report",
        "",
        f"{overall['questions']} questions from `{run.get('questions_file', '?')}` over the corpus "
        f"`{run.get('corpus', '?')}`, answered by **{run.get('model', '?')}** on {run.get('date', '?')}.",
        "",
        f"![Answer quality, retrieval recall, latency, and risk against coverage]({chart_name})",
        "",
        "## Figures",
        "",
        *_figure_table(metrics),
        "",
        "Rates are shares of the questions they apply to: answer figures, coverage and retrieval recall of "
        "the answerable questions, abstention of the unanswerable ones, precision of the answers with "
        "citations, answered precision of the answers given. Wrong with citation is a share of all questions: "
        "an answer that is wrong, or answers what the articles cannot, and still cites a sentence. Its three "
        "causes add up to it, each a share of all questions: an answerable question answered wrong citing no "
        "gold sentence (wrong sentence cited), answered wrong although a gold sentence is cited (gold cited, "
        "misread), and an unanswerable question answered with a citation.",
        "",
        *_pair_section(metrics),
        "## Risk and coverage",
        "",
        *_risk_tables(predictions, metrics, operating_threshold(run)),
        "## By article",
        "",
        *_article_table(metrics, run.get("titles", {})),
        "",
        "## Worst failures",
        "",
        *_failures(predictions),
        "## Settings",
        "",
        "| Setting | Value |",
        "|---|---|",
        *(f"| {name} | `{value}` |" for name, value in run.get("settings", {}).items()),
        "",
        f"Reproduce: `{run.get('command', 'qa eval')}`",
        "",
    ]
    return "\n".join(lines)


def operating_threshold(run: dict[str, Any]) -> float | None:
    """The minimum confidence the run withheld answers below; None for runs from before the verifier."""
    try:
        return float(run.get("settings", {})["min_confidence"])
    except (KeyError, TypeError, ValueError):
        return None


def _figure_table(metrics: dict[str, Any]) -> list[str]:
    languages = list(metrics["by_language"])
    groups = [("All", metrics["overall"]), *((lang, metrics["by_language"][lang]) for lang in languages)]
    lines = [
        "| Figure | " + " | ".join(f"{name} (n={summary['questions']})" for name, summary in groups) + " |",
        "|---|" + "---:|" * len(groups),
    ]
    for label, key, kind in FIGURES:
        cells = " | ".join(_format(summary.get(key), kind) for _, summary in groups)
        lines.append(f"| {label.replace('  ', '&nbsp;&nbsp;')} | {cells} |")
    return lines


def _pair_lines(metrics: dict[str, Any]) -> list[str]:
    """The summary's lines on the questions asked in both languages; none when there are no pairs."""
    pairs = metrics.get("language_pairs") or {}
    if not pairs.get("pairs"):
        return []
    lines = [f"{pairs['pairs']} facts asked in both languages:{'de':>9}{'en':>9}{'gap':>9}"]
    for figure in PAIR_FIGURES:
        cells = [_format(pairs[language].get(figure), "rate") for language in ("de", "en")]
        cells.append(_points(pairs["gap"].get(figure)))
        lines.append(f"  {_PAIR_LABELS[figure]:36}" + "".join(f"{cell:>9}" for cell in cells))
    return lines


def _pair_section(metrics: dict[str, Any]) -> list[str]:
    pairs = metrics.get("language_pairs") or {}
    if not pairs.get("pairs"):
        return []
    lines = [
        "## German and English, fact for fact",
        "",
        f"{pairs['pairs']} facts are asked in both languages (ids that differ only in the language code, with "
        "the same gold sentences). The gap is German minus English, in points: what the language alone costs.",
        "",
        "| Figure | de | en | gap |",
        "|---|---:|---:|---:|",
    ]
    for figure in PAIR_FIGURES:
        cells = [_format(pairs["de"].get(figure), "rate"), _format(pairs["en"].get(figure), "rate")]
        lines.append(f"| {_PAIR_LABELS[figure]} | " + " | ".join(cells) + f" | {_points(pairs['gap'].get(figure))} |")
    return [*lines, ""]


def _points(gap: float | None) -> str:
    return "–" if gap is None else f"{100 * gap:+.1f}"


def _risk_tables(predictions: list[dict[str, Any]], metrics: dict[str, Any], operating: float | None) -> list[str]:
    if not any("draft_metrics" in p for p in predictions):
        return ["This run recorded no drafted answers with the verifier's confidence, so there is no curve.", ""]
    lines = [
        "Every drafted answer gets a confidence from the claim verifier, and one below the minimum confidence is "
        "withheld: the question is answered with an abstention instead. A higher minimum withholds more drafts, "
        "so coverage falls; it pays where the wrong answers that carry a citation fall faster than the right "
        "ones. Coverage is of the answerable questions, wrong with citation of all questions, answered "
        "precision of the drafts kept.",
        "",
    ]
    if not any(p.get("confidence") is not None for p in predictions):
        lines += ["No draft carries a confidence in this run, so every minimum keeps the same answers.", ""]
    thresholds = [*RISK_THRESHOLDS, *([operating] if operating is not None else [])]
    sizes = {"all": metrics["overall"]["questions"]}
    sizes |= {lang: summary["questions"] for lang, summary in metrics["by_language"].items()}
    for name, points in risk_coverage_by_language(predictions, thresholds).items():
        lines += [
            f"**{'All' if name == 'all' else name}** (n={sizes.get(name, '?')})",
            "",
            "| Minimum confidence | Coverage | Wrong with citation | Answered precision | Answered |",
            "|---:|---:|---:|---:|---:|",
        ]
        for point in points:
            threshold = f"{point['threshold']:.2f}"
            if point["threshold"] == operating:
                threshold = f"**{threshold} (this run)**"
            cells = [_format(point[key], "rate") for key in ("coverage", "wrong_with_citation", "answered_precision")]
            lines.append(f"| {threshold} | " + " | ".join(cells) + f" | {point['answered']} |")
        lines.append("")
    return lines


def _article_table(metrics: dict[str, Any], titles: dict[str, str]) -> list[str]:
    lines = [
        "| Article | " + " | ".join(label for label, _ in _ARTICLE_COLUMNS) + " |",
        "|---|" + "---:|" * len(_ARTICLE_COLUMNS),
    ]
    for doc_id, summary in metrics["by_article"].items():
        name = f"{titles[doc_id]} (`{doc_id}`)" if doc_id in titles else f"`{doc_id}`"
        cells = [
            str(summary[key]) if key == "questions" else _format(summary.get(key), "rate")
            for _, key in _ARTICLE_COLUMNS
        ]
        lines.append(f"| {_cell(name)} | " + " | ".join(cells) + " |")
    return lines


def _failures(predictions: list[dict[str, Any]]) -> list[str]:
    """Answers that are wrong with a citation first, then the rest; in each, unanswerable questions
    that got an answer first, then answerable ones by how far off they are."""
    failed = [p for p in predictions if not _passed(p)]
    failed.sort(key=lambda p: (not _wrong_with_citation(p), p["expected"]["answerable"], *_closeness(p)))
    if not failed:
        return ["Every question was answered correctly with a gold sentence cited, or abstained when it should.", ""]
    cited_wrong = sum(1 for p in failed if _wrong_with_citation(p))
    lines = [
        f"{len(failed)} of {len(predictions)} questions failed, {cited_wrong} of them with a wrong answer that "
        f"carries a citation; the {min(WORST, len(failed))} worst:",
        "",
    ]
    for p in failed[:WORST]:
        expected = p["expected"]
        lines.append(f"### {p['id']} ({p['language']}): {_why(p)}")
        lines.append("")
        lines.append(f"- **Question:** {p['question']}")
        lines.append(f"- **Answer:** {p['answer']}")
        if expected["answerable"]:
            lines.append(f"- **Accepted answers:** {', '.join(expected['answers'])}")
        lines += _cited(p["citations"])
        if p.get("unsupported_claims"):
            lines.append(f"- **Unsupported claims:** {'; '.join(p['unsupported_claims'])}")
        if p.get("confidence") is not None:
            shown = "withheld" if p.get("withheld") else "shown" if p.get("verified", True) else "shown, unverified"
            lines.append(f"- **Verifier confidence:** {p['confidence']:.2f} ({shown})")
        if p.get("withheld"):
            lines.append(f"- **Withheld draft:** {p['withheld']['answer']}")
            lines += _cited(p["withheld"]["citations"], indent="  ")
        for gold in expected["gold"]:
            lines.append(f"- **Gold** `{gold['doc']}`: {gold['sentence']}")
        if p.get("notes"):
            lines.append(f"- **Checks:** {'; '.join(p['notes'])}")
        lines.append("")
    return lines


def _cited(citations: list[dict[str, Any]], indent: str = "") -> list[str]:
    lines = []
    for number, citation in enumerate(citations, start=1):
        # The verdict and evidence span show where in the sentence the claim is, if anywhere.
        verdict = citation.get("verdict")
        evidence = f"; evidence: “{citation['evidence']}”" if citation.get("evidence") else ""
        judged = f" ({verdict}{evidence})" if verdict else ""
        where = f"`{citation['doc_id']}` #{citation['sentence_index']}{judged}"
        lines.append(f"{indent}- **Cited [{number}]** {where}: {citation['sentence']}")
    return lines


def _wrong_with_citation(prediction: dict[str, Any]) -> bool:
    return bool(prediction["metrics"].get("wrong_with_citation"))


def _passed(prediction: dict[str, Any]) -> bool:
    metrics = prediction["metrics"]
    if prediction["expected"]["answerable"]:
        return bool(metrics["correct_and_gold_cited"])
    return bool(metrics["abstention_correct"])


def _closeness(prediction: dict[str, Any]) -> tuple[float, float, float]:
    metrics = prediction["metrics"]
    return (float(bool(metrics.get("correct"))), float(bool(metrics.get("gold_cited"))), metrics.get("token_f1") or 0)


def _why(prediction: dict[str, Any]) -> str:
    metrics = prediction["metrics"]
    cited = ", with a citation" if metrics.get("wrong_with_citation") else ""
    if not prediction["expected"]["answerable"]:
        return "answered a question the articles cannot answer" + cited
    if metrics["abstained"]:
        return "abstained although the articles answer it"
    if not metrics["correct"]:
        return "wrong answer" + cited + ("" if metrics["gold_cited"] else ", no gold sentence cited")
    return "right answer, but no gold sentence cited"


def _format(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "seconds":
        return f"{value:.2f} s"
    return f"{100 * value:.1f} %"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
