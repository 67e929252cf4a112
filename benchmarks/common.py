"""What every benchmark shares: where results go (JSON and a markdown table), the machine they ran on,
and a German corpus of any size made from the seeds."""

from __future__ import annotations

import json
import os
import platform
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qa.evaluation.metrics import percentile  # noqa: E402
from qa.evaluation.runner import load_questions  # noqa: E402
from qa.settings import SEEDS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

__all__ = [
    "RESULTS",
    "ROOT",
    "SEEDS",
    "chosen_questions",
    "machine",
    "percentile",
    "question_sample",
    "seed_sentences",
    "varied_corpus",
    "write_results",
]


def chosen_questions(path: Path, ids: list[str] | None, limit: int | None) -> list[dict[str, Any]]:
    """The questions of ``path``: only ``ids`` when given, then the first ``limit``."""
    questions = load_questions(path)
    if ids:
        questions = [q for q in questions if q["id"] in set(ids)]
    return questions[:limit] if limit else questions


def machine() -> dict[str, Any]:
    """What a figure was measured on: llama.cpp runs the same code about 2.5x faster with AVX-512 than
    with AVX2 only, so absolute seconds only compare on the same processor."""
    return {
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "llama_cpp": _llama_system_info(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


_FLAGS = re.compile(r"\b(avx2|avx512\w*|avx_vnni|amx\w*|f16c|fma)\b")


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpu_model() -> str:
    match = re.search(r"^model name\s*:\s*(.+)$", _cpuinfo(), re.MULTILINE)
    return match.group(1).strip() if match else platform.processor()


def _cpu_flags() -> list[str]:
    """The processor's flags that matter to llama.cpp's kernels."""
    match = re.search(r"^flags\s*:\s*(.+)$", _cpuinfo(), re.MULTILINE)
    return sorted(set(_FLAGS.findall(match.group(1)))) if match else []


def _llama_system_info() -> str:
    try:
        import llama_cpp

        return llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    except (ImportError, AttributeError, OSError):
        return "llama-cpp-python not available"


def write_results(
    name: str, summary: dict[str, Any], rows: list[dict[str, Any]], out_dir: Path = RESULTS, quiet: bool = False
) -> Path:
    """Write ``<name>.json`` (summary, rows, machine) and ``<name>.md`` (the rows as a table); print the
    JSON summary unless ``quiet``. Returns the JSON file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "machine": machine(), "summary": summary, "rows": rows}
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out_dir / f"{name}.md").write_text(markdown_table(name, summary, rows), encoding="utf-8")
    if not quiet:
        print(json.dumps({"benchmark": name, "summary": summary}, ensure_ascii=False, indent=2))
    return json_path


def markdown_table(title: str, summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = [f"# {title}", ""]
    lines += [f"- **{key}**: {value}" for key, value in summary.items()]
    if rows:
        columns = list(dict.fromkeys(key for row in rows for key in row))
        lines += ["", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        lines += ["| " + " | ".join(str(row.get(column, "")) for column in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def seed_sentences() -> list[str]:
    """The seeds' lines of body text, in file order (titles and metadata lines left out)."""
    sentences: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            line = line.strip()
            if len(line) > 40 and not re.match(r"^(Datum|Quelle|Autor|Date|Source)\s*:", line):
                sentences.extend(part for part in re.split(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ])", line) if len(part) > 20)
    return sentences


def varied_corpus(folder: Path, documents: int, sentences_per_document: int = 24, seed: int = 0) -> Path:
    """``documents`` German articles made from the seeds' sentences in shuffled order, each with its own
    title and a line that makes it unique, so no two documents (or chunks) share a text."""
    rng = random.Random(seed)
    pool = seed_sentences()
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(documents):
        chosen = rng.sample(pool, min(sentences_per_document, len(pool)))
        title = f"Meldung {number + 1}: {chosen[0][:60]}"
        unique = f"Diese Zusammenfassung Nummer {number + 1} stammt aus dem Archiv."
        body = " ".join([unique, *chosen])
        (folder / f"meldung_{number:05d}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    return folder


def question_sample(count: int) -> list[str]:
    """``count`` questions of ``seeds/questions.jsonl``, spread evenly over the file (German and
    English, answerable and not); the file is repeated when ``count`` is larger."""
    lines = (SEEDS / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    return [questions[(i * len(questions)) // count % len(questions)] for i in range(count)]
