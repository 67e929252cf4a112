"""The qa command as a user runs it: a subprocess, offline, with its exit codes and output."""

import json
import socket

import pytest

from tests.conftest import SEEDS, qa, write_articles

# Each qa process loads the embedding model anew: seconds each, minutes in all.
pytestmark = pytest.mark.slow


def test_index_seeds_offline_prints_a_summary_then_retrieve_answers(tmp_path):
    index_dir = str(tmp_path / "index")
    built = qa("index", str(SEEDS), "--index", index_dir)
    assert built.returncode == 0, built.stderr
    assert "5 documents, 109 sentences" in built.stdout
    assert "5 added" in built.stdout and "chunks/s" in built.stdout
    assert "Embedding" in built.stderr  # the progress bar

    found = qa("retrieve", "Bis wann soll Lawrow in Nordkorea bleiben?", "--index", index_dir, "-k", "3", "--json")
    assert found.returncode == 0, found.stderr
    searched = json.loads(found.stdout)
    assert searched["query"] == {
        "question": "Bis wann soll Lawrow in Nordkorea bleiben?",
        "language": "de",
        "german": None,
    }
    hits = searched["hits"]
    assert len(hits) == 3
    assert "bis Sonntag in Nordkorea zu Besuch sein." in " ".join(h["sentence"] for h in hits)

    asked = qa("retrieve", "--index", index_dir, "-k", "1", stdin="Was sagte ein Sprecher in Seoul?\n\n")
    assert asked.returncode == 0 and "Südkorea verfolge die Gespräche" in asked.stdout


def test_skipped_files_are_listed_and_the_run_goes_on(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    good = tmp_path / "good.md"
    good.write_text("# Titel\n\nLawrow reiste nach Pjöngjang.", encoding="utf-8")
    dump = tmp_path / "archiv.jsonl"
    dump.write_text('{"nr": 1, "inhalt": "Kim empfing Lawrow."}\n{"nr": 2, "inhalt": ""}\n', encoding="utf-8")
    files = [str(tmp_path / "empty.txt"), str(tmp_path / "notes.docx"), str(good), str(dump)]
    result = qa("index", *files, "--fields", "id=nr,text=inhalt", "--index", str(tmp_path / "i"))
    assert result.returncode == 0, result.stderr
    assert "2 documents" in result.stdout
    assert "Skipped 3 file(s) or record(s)" in result.stdout
    assert "empty.txt: file is empty" in result.stdout and "unsupported file type '.docx'" in result.stdout
    assert "archiv.jsonl line 2: no text (looked for the field inhalt)" in result.stdout
    wrong = qa("index", str(dump), "--fields", "body=inhalt", "--index", str(tmp_path / "i"))
    assert wrong.returncode == 2 and "'body' is not a field" in wrong.stderr


def test_user_errors_are_one_line_without_a_traceback(tmp_path):
    result = qa("retrieve", "   ", "--index", str(tmp_path / "index"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "qa: error: the question is empty; type a question"
    assert "Traceback" not in result.stderr

    nothing = qa("index", str(tmp_path / "missing"), "--index", str(tmp_path / "index2"))
    assert nothing.returncode == 1 and "no such file or folder" in nothing.stdout


def test_chat_refuses_a_busy_port_and_a_bad_login_setting_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = qa("chat", "--index", str(tmp_path / "index"), "--port", port)
    assert busy.returncode == 2 and "Traceback" not in busy.stderr
    refusal = f"qa: error: port {port} on 127.0.0.1 is in use; choose another with --port or QA_CHAT_PORT"
    assert busy.stderr.strip() == refusal
    bad = qa("chat", "--index", str(tmp_path / "index"), env={"QA_AUTH": "reader"})
    assert bad.returncode == 2
    assert bad.stderr.strip() == "qa: error: setting auth (QA_AUTH) must be 'user:password', both parts non-empty"
    assert not (tmp_path / "index").exists()  # refused before anything was built


@pytest.mark.llm
def test_ask_prints_the_answer_with_numbered_cited_sentences_and_json(tmp_path):
    index_dir = str(tmp_path / "index")
    assert qa("index", str(SEEDS), "--index", index_dir).returncode == 0
    sentence = "Lawrow soll laut russischen und nordkoreanischen Staatsmedien bis Sonntag in Nordkorea zu Besuch sein."
    question = (
        "Bis zu welchem Tag soll Lawrow laut russischen und nordkoreanischen Staatsmedien in Nordkorea zu Besuch sein?"
    )
    shown = qa("ask", question, "--index", index_dir)
    assert shown.returncode == 0, shown.stderr
    assert "Sonntag" in shown.stdout and "[1]" in shown.stdout
    assert f"001_1d0c2a484e463a8b, sentence 20: {sentence}" in shown.stdout
    english = "In which year had Lavrov last visited North Korea before he arrived in Pyongyang on Wednesday?"
    data = json.loads(qa("ask", english, "--index", index_dir, "--json").stdout)
    assert data["language"] == "en" and data["answerable"] is True and "2018" in data["text"]
    assert any("2018" in c["sentence"] for c in data["citations"])
    assert {"text", "language", "answerable", "citations", "timings"} <= set(data)


def test_ask_refuses_bad_questions_and_a_down_server_with_one_line(tmp_path):
    index_dir = str(tmp_path / "index")
    assert qa("index", str(SEEDS), "--index", index_dir).returncode == 0
    for question, message in [("   ", "the question is empty"), ("x" * 2001, "the limit is 2000")]:
        result = qa("ask", question, "--index", index_dir)
        assert result.returncode == 2 and result.stderr.startswith("qa: error: ") and message in result.stderr
        assert "Traceback" not in result.stderr
    down = qa(
        "ask",
        "Wer ist Kim?",
        "--index",
        index_dir,
        "--llm",
        "openai",
        "--llm-model",
        "m",
        "--llm-base-url",
        "http://127.0.0.1:9/v1",
    )
    assert down.returncode == 2 and "qa: error: the LLM server" in down.stderr
    assert "Traceback" not in down.stderr


def test_retrieve_and_ask_filter_by_date_and_outlet(tmp_path):
    corpus = write_articles(tmp_path / "corpus")
    index_dir = str(tmp_path / "index")
    assert qa("index", str(corpus), "--index", index_dir).returncode == 0
    question = "Wo wurde gestreikt?"
    options = ["--index", index_dir, "--since", "10.10.2023", "--source", "afp", "--source", "Tagesspiegel"]
    found = qa("retrieve", question, *options, "-k", "4", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["hits"]
    assert len(hits) == 4 and {hit["doc_id"] for hit in hits} == {"bahn", "wetter"}
    shown = qa("retrieve", question, "--index", index_dir, "-k", "2", "--source", "DPA", "--until", "2023-10")
    assert shown.returncode == 0 and shown.stdout.count("(hafen, sentence") == 2, shown.stdout

    unreadable = qa("retrieve", question, "--index", index_dir, "--since", "xyz")
    assert unreadable.returncode == 2 and "Traceback" not in unreadable.stderr
    assert unreadable.stderr.strip() == (
        "qa: error: the date 'xyz' for --since cannot be read; write it as 2023-10-05 or 5.10.2023"
    )
    reversed_range = qa("ask", question, "--index", index_dir, "--since", "2023-10-20", "--until", "1.10.2023")
    assert reversed_range.returncode == 2 and reversed_range.stderr.strip() == (
        "qa: error: --since 2023-10-20 comes after --until 2023-10-01; swap them, or leave one out for an open end"
    )
    held = "the 5 articles are dated 2023-10-05 to 2023-11 (1 has no date); outlets: AFP, dpa, REUTERS, Tagesspiegel"
    for command in ("retrieve", "ask"):  # refused before the model is loaded
        nothing = qa(command, question, "--index", index_dir, "--source", "BBC")
        assert nothing.returncode == 2, nothing.stderr
        assert nothing.stderr.strip() == f"qa: error: no article matches from BBC: {held}"
    # Questions on stdin: a filter that admits nothing stops at the first, with the same one line.
    lines = qa("retrieve", "--index", index_dir, "--until", "2020-01-01", stdin="Wo?\nWer?\n")
    assert lines.returncode == 2 and lines.stderr.strip().splitlines() == [
        f"qa: error: no article matches until 2020-01-01: {held}"
    ]
