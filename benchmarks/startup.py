"""Start-up of the serving commands, as a user meets it: from typing the command to the first answer.

    .venv/bin/python benchmarks/startup.py [--commands chat serve] [--runs 2] [--out-dir benchmarks/results]

The seeds are indexed first (``qa index seeds --index DIR``, in its own process). Then each command
(``qa chat --index DIR --port N`` or ``qa serve --index DIR --port N``) is started ``--runs`` times
as a subprocess, with the environment minus its ``QA_*`` variables so the defaults hold. Per run:

- **ready**: seconds from the launch to the line that gives the address ("Chat page: " or "API: "),
  printed once the index and both models are loaded and the prompt starts are kept;
- **first answer**: seconds from the launch until one question has been answered: through
  ``gradio_client`` and ``/chat`` for the chat page, through ``POST /api/ask`` for the API;
- the phases the command reports in its "Ready in" line, where it prints one.

Before the first run of each command the kept prompt starts (``~/.cache/qa-news/models/prompt-states``,
a cache) are removed, so that run evaluates them and keeps them, as the first start on a new machine
does; later runs read them back. Absolute seconds depend on the processor, so the JSON records the
machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import RESULTS, ROOT, SEEDS, write_results

from qa.llm.model_file import default_cache_dir

QUESTION = "Wie lange traf Lawrow Kim Jong Un?"
TIMEOUT_S = 900
READY = re.compile(r"^(Chat page|API): (\S+)")
PHASES = re.compile(r"(\w[\w ]*?) ([\d.]+) s")
LOCAL = "127.0.0.1,localhost"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", nargs="+", choices=("chat", "serve"), default=["chat", "serve"])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    qa = ROOT / ".venv" / "bin" / "qa"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(NO_PROXY=LOCAL, no_proxy=LOCAL)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="qa-startup-") as folder:
        index = Path(folder) / "index"
        subprocess.run(
            [str(qa), "index", str(SEEDS), "--index", str(index), "--json"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for command in args.commands:
            shutil.rmtree(default_cache_dir() / "prompt-states", ignore_errors=True)
            for run in range(1, args.runs + 1):
                rows.append({"command": f"qa {command}", "run": run, **_start(qa, command, index, env)})
                print(rows[-1], flush=True)
    summary: dict[str, Any] = {}
    for command in args.commands:
        mine = [row for row in rows if row["command"] == f"qa {command}"]
        summary[f"qa {command}: ready, s (first run / later)"] = _firsts(mine, "ready_s")
        summary[f"qa {command}: first answer, s (first run / later)"] = _firsts(mine, "first_answer_s")
    write_results("startup", summary, rows, args.out_dir)


def _firsts(rows: list[dict[str, Any]], key: str) -> str:
    later = [row[key] for row in rows[1:]]
    tail = f" / {min(later):.1f}" if later else ""
    return f"{rows[0][key]:.1f}{tail}"


def _start(qa: Path, command: str, index: Path, env: dict[str, str]) -> dict[str, Any]:
    port = _free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(qa), command, "--index", str(index), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready: dict[str, Any] = {}
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip())
            if line.startswith("Ready in") and "(" in line:
                phases = line[line.index("(") :]
                ready["phases"] = {name.strip(): float(s) for name, s in PHASES.findall(phases)}
            match = READY.match(line)
            if match and "url" not in ready:
                ready["seconds"], ready["url"] = time.perf_counter() - started, match.group(2).rstrip(".")
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not found.wait(TIMEOUT_S):
            raise RuntimeError(f"qa {command} did not start:\n" + "\n".join(lines[-20:]))
        _ask(command, ready["url"])
        answered = time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    row = {"ready_s": round(ready["seconds"], 2), "first_answer_s": round(answered, 2)}
    row.update({f"{name} s": seconds for name, seconds in ready.get("phases", {}).items()})
    return row


def _ask(command: str, url: str) -> None:
    if command == "chat":
        from gradio_client import Client

        Client(url, verbose=False).predict(QUESTION, 3, api_name="/chat")
        return
    import httpx

    reply = httpx.post(url.removesuffix("/api") + "/api/ask", json={"question": QUESTION}, timeout=TIMEOUT_S)
    reply.raise_for_status()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
