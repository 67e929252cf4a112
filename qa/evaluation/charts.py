"""The evaluation chart: answer quality by language, retrieval recall by depth, the latency
distribution, and what the verifier's confidence threshold trades (risk against coverage), in one
PNG a reader understands without the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and in CI
import matplotlib.pyplot as plt

from qa.evaluation.metrics import risk_coverage_by_language

QUALITY = (
    ("accuracy", "correct answer"),
    ("gold_sentence_recall", "gold sentence cited"),
    ("citation_precision", "citation precision"),
    ("abstention_accuracy", "abstained when\nunanswerable"),
)
_LANGUAGE_NAMES = {"de": "German", "en": "English"}


def draw_chart(
    metrics: dict[str, Any],
    predictions: list[dict[str, Any]],
    path: Path,
    title: str,
    operating: float | None = None,
) -> Path:
    """``operating`` is the run's minimum confidence, marked on the risk-coverage curves."""
    figure = plt.figure(figsize=(21, 5))
    draw_panels(figure, metrics, predictions, operating)
    figure.suptitle(title, fontsize=12)
    figure.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    figure.savefig(tmp, dpi=110, format="png")
    plt.close(figure)
    tmp.replace(path)
    return path


def draw_panels(
    figure: Any, metrics: dict[str, Any], predictions: list[dict[str, Any]], operating: float | None = None
) -> list[Any]:
    """The chart's four panels, side by side on ``figure``."""
    panels = figure.subplots(1, 4, gridspec_kw={"width_ratios": [3, 2, 2, 2]})
    quality, recall, latency, risk = panels
    _quality_bars(quality, metrics)
    _recall_lines(recall, metrics)
    _latency_histogram(latency, predictions)
    _risk_coverage_lines(risk, metrics, predictions, operating)
    return list(panels)


def _groups(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    groups = [(_LANGUAGE_NAMES.get(lang, lang), summary) for lang, summary in metrics["by_language"].items()]
    return [*groups, ("All", metrics["overall"])]


def _quality_bars(axes: Any, metrics: dict[str, Any]) -> None:
    groups = _groups(metrics)
    width = 0.8 / len(groups)
    for offset, (name, summary) in enumerate(groups):
        xs = [i + (offset - (len(groups) - 1) / 2) * width for i in range(len(QUALITY))]
        values = [summary.get(key) for key, _ in QUALITY]
        bars = axes.bar(xs, [100 * (v or 0) for v in values], width, label=name)
        for bar, value in zip(bars, values, strict=True):
            label = "n/a" if value is None else f"{100 * value:.0f}"
            axes.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 2),
                textcoords="offset points",
            )
    axes.set_xticks(range(len(QUALITY)), [label for _, label in QUALITY], fontsize=9)
    axes.set_ylim(0, 110)
    axes.set_ylabel("% of questions")
    axes.set_title("Answer quality by question language")
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(axis="y", alpha=0.3)


def _recall_lines(axes: Any, metrics: dict[str, Any]) -> None:
    for name, summary in _groups(metrics):
        points = sorted(
            (int(key.split("@")[1]), value)
            for key, value in summary.items()
            if key.startswith("retrieval_recall@") and value is not None
        )
        if points:
            axes.plot([k for k, _ in points], [100 * v for _, v in points], marker="o", label=name)
    axes.set_xlabel("sentences retrieved (k)")
    axes.set_ylabel("% of answerable questions")
    axes.set_ylim(0, 105)
    axes.set_title("Gold sentence among the top k retrieved")
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)


def _latency_histogram(axes: Any, predictions: list[dict[str, Any]]) -> None:
    latency = [p["latency_s"] for p in predictions]
    first = [p["first_token_s"] for p in predictions]
    if latency:
        top = max(latency)
        bins = [top * i / 20 for i in range(21)] if top > 0 else 10
        axes.hist(latency, bins=bins, alpha=0.6, label="whole answer")
        axes.hist(first, bins=bins, alpha=0.6, label="first streamed text")
        median = sorted(latency)[len(latency) // 2]
        axes.axvline(median, color="black", linestyle="--", linewidth=1, label=f"median answer {median:.1f} s")
    axes.set_xlabel("seconds")
    axes.set_ylabel("questions")
    axes.set_title("Time per answer")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)


def _risk_coverage_lines(
    axes: Any, metrics: dict[str, Any], predictions: list[dict[str, Any]], operating: float | None
) -> None:
    # The operating point is computed from the predictions, so it is exact even where the stored
    # curve holds only quantiles of the confidences.
    here = risk_coverage_by_language(predictions, [operating]) if operating is not None else {}
    curves = metrics.get("risk_coverage", {})
    for key in [*(k for k in curves if k != "all"), "all"]:
        name = "All" if key == "all" else _LANGUAGE_NAMES.get(key, key)
        points = [p for p in curves[key] if p["coverage"] is not None and p["wrong_with_citation"] is not None]
        if not points:
            continue
        (line,) = axes.plot(
            [100 * p["coverage"] for p in points],
            [100 * p["wrong_with_citation"] for p in points],
            marker=".",
            label=name,
        )
        point = (here.get(key) or [None])[0]
        if point and point["coverage"] is not None and point["wrong_with_citation"] is not None:
            axes.plot(
                100 * point["coverage"],
                100 * point["wrong_with_citation"],
                marker="*",
                markersize=14,
                color=line.get_color(),
                markeredgecolor="black",
                linestyle="none",
            )
    if operating is not None:
        axes.plot(
            [], [], marker="*", markersize=12, color="grey", linestyle="none", label=f"this run (≥ {operating:g})"
        )
    axes.set_xlim(0, 105)
    axes.set_ylim(bottom=0)
    axes.set_xlabel("% of answerable questions answered (coverage)")
    axes.set_ylabel("% of all questions wrong with a citation")
    axes.set_title("Risk–coverage over the verifier's confidence")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
