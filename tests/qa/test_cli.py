"""The qa command as a user runs it: a subprocess, offline, with its exit codes and output."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT, SEEDS

# Any attempt to reach the network goes to a closed local port and fails at once.
OFFLINE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "HF_HUB_OFFLINE": "1",
    "PYTHONPATH": str(ROOT),
}


def qa(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | OFFLINE
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=600,
        check=False,
    )


def test_index_seeds_offline_prints_a_summary_then_retrieve_answers(tmp_path):
    index_dir = str(tmp_path / "index")
    built = qa("index", str(SEEDS), "--index", index_dir)
    assert built.returncode == 0, built.stderr
    assert "5 documents, 109 sentences" in built.stdout
    assert "5 added" in built.stdout and "chunks/s" in built.stdout
    assert "Embedding" in built.stderr  # the progress bar

    found = qa("retrieve", "Bis wann soll Lawrow in Nordkorea bleiben?", "--index", index_dir, "-k", "3", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) == 3
    assert "bis Sonntag in Nordkorea zu Besuch sein." in " ".join(h["sentence"] for h in hits)

    asked = qa("retrieve", "--index", index_dir, "-k", "1", stdin="Was sagte ein Sprecher in Seoul?\n\n")
    assert asked.returncode == 0 and "Südkorea verfolge die Gespräche" in asked.stdout


def test_skipped_files_are_listed_and_the_run_goes_on(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    good = tmp_path / "good.md"
    good.write_text("# Titel\n\nLawrow reiste nach Pjöngjang.", encoding="utf-8")
    files = [str(tmp_path / "empty.txt"), str(tmp_path / "notes.pdf"), str(good)]
    result = qa("index", *files, "--index", str(tmp_path / "i"))
    assert result.returncode == 0, result.stderr
    assert "1 documents" in result.stdout
    assert "Skipped 2 file(s)" in result.stdout
    assert "empty.txt: file is empty" in result.stdout and "unsupported file type '.pdf'" in result.stdout


def test_user_errors_are_one_line_without_a_traceback(tmp_path):
    result = qa("retrieve", "   ", "--index", str(tmp_path / "index"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "qa: error: the question is empty; type a question"
    assert "Traceback" not in result.stderr

    nothing = qa("index", str(tmp_path / "missing"), "--index", str(tmp_path / "index2"))
    assert nothing.returncode == 1 and "no such file or folder" in nothing.stdout
