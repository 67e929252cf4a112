"""``qa eval`` as a user runs it: the real index, embedder and embedded model over the seeds'
question set (and a SQuAD-format file), with every output file checked for completeness."""

import json
import struct

import pytest

from index.loading import load_document
from tests.conftest import DATA, SEEDS, qa

# Each qa process loads the embedding model anew: seconds each, minutes in all.
pytestmark = pytest.mark.slow

PREDICTION_KEYS = {
    "id",
    "question",
    "language",
    "answer",
    "answer_language",
    "answerable",
    "citations",
    "retrieved",
    "latency_s",
    "first_token_s",
    "searched_as",
    "notes",
    "expected",
    "articles",
    "metrics",
    "confidence",
    "signals",
    "timings",
    "verified",
    "unsupported_claims",
    "withheld",
    "draft_metrics",
}
CITATION_KEYS = {
    "doc_id",
    "title",
    "sentence_index",
    "sentence",
    "start",
    "end",
    "score",
    "verdict",
    "evidence_start",
    "evidence_end",
    "evidence",
    "also",
}
QUESTION_METRICS = {
    "wrong_sentence_cited",
    "gold_cited_misread",
    "unanswerable_answered",
    "correct",
    "token_f1",
    "gold_cited",
    "correct_and_gold_cited",
    "citation_precision",
    "cited_doc_precision",
    "cited_doc_recall",
    "abstained",
    "abstention_correct",
    "false_abstention",
    "language_match",
    "answered",
    "wrong_with_citation",
    "answered_right",
    "retrieval_recall@1",
    "retrieval_recall@3",
    "retrieval_recall@5",
    "retrieval_recall@10",
}


def seed_texts() -> dict[str, str]:
    return {path.stem: load_document(path, 10**7)[0].text for path in sorted(SEEDS.glob("*.txt"))}


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.llm
def test_eval_limit_10_on_the_seeds_writes_complete_well_formed_results(tmp_path):
    out = tmp_path / "results"
    result = qa("eval", "--limit", "10", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Evaluating" in result.stderr  # the progress bar
    assert "10 questions" in result.stdout and "Correct and a gold sentence cited" in result.stdout
    assert str(out / "report.md") in result.stdout

    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    expected = [json.loads(line) for line in (SEEDS / "questions.jsonl").read_text().splitlines()][:10]
    assert [p["id"] for p in predictions] == [q["id"] for q in expected]
    texts = seed_texts()
    for prediction in predictions:
        assert set(prediction) == PREDICTION_KEYS
        assert set(prediction["metrics"]) == QUESTION_METRICS
        assert 0 < prediction["first_token_s"] <= prediction["latency_s"]
        assert len(prediction["retrieved"]) == 10
        for citation in prediction["citations"]:
            assert set(citation) == CITATION_KEYS
            assert texts[citation["doc_id"]][citation["start"] : citation["end"]] == citation["sentence"]
            assert citation["verdict"] in ("states", "related")
            start, end = citation["evidence_start"], citation["evidence_end"]
            assert citation["start"] <= start < end <= citation["end"]
            assert texts[citation["doc_id"]][start:end] == citation["evidence"]
    # The first ten are German questions the articles answer; the real model gets most of them.
    passed = [p["id"] for p in predictions if p["metrics"]["correct_and_gold_cited"]]
    assert len(passed) >= 7, predictions

    metrics = json.loads((out / "metrics.json").read_text())
    overall = metrics["overall"]
    assert overall["questions"] == 10 and overall["answerable"] == 10
    assert overall["correct_and_gold_cited"] == pytest.approx(len(passed) / 10, abs=1e-4)
    assert set(metrics["by_language"]) == {"de"}
    assert set(metrics["by_article"]) <= set(texts)
    assert metrics["run"]["model"] == "embedded qwen2.5-coder-1.5b-instruct-q4_k_m (llama.cpp)"
    assert metrics["run"]["command"] == f"qa eval --limit 10 --out {out}"
    assert overall["latency_p50"] > 0 and overall["retrieval_recall@10"] >= overall["retrieval_recall@1"]
    wrong = [p["id"] for p in predictions if p["metrics"]["wrong_with_citation"]]
    assert overall["wrong_with_citation"] == pytest.approx(len(wrong) / 10, abs=1e-4)
    assert "Wrong with citation" in result.stdout and metrics["risk_coverage"]["all"]

    report = (out / "report.md").read_text()
    for heading in ("## Figures", "## Risk and coverage", "## By article", "## Worst failures", "## Settings"):
        assert heading in report
    assert "](chart.png)" in report and "qwen2.5-coder-1.5b" in report
    width, height = png_size(out / "chart.png")
    assert width > 1000 and height > 400


@pytest.mark.llm
def test_eval_on_a_squad_file_builds_its_corpus_and_cites_it(tmp_path):
    out = tmp_path / "squad"
    result = qa("eval", "--squad", str(DATA / "squad_sample.json"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert predictions and all(set(p) == PREDICTION_KEYS for p in predictions)
    answerable = [p for p in predictions if p["expected"]["answerable"]]
    # Retrieval over the file's own articles finds the gold sentences.
    assert sum(p["metrics"]["retrieval_recall@3"] for p in answerable) >= 0.8 * len(answerable)
    assert any(p["metrics"]["correct_and_gold_cited"] for p in answerable)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["questions_file"].endswith("squad_sample.json")
    assert metrics["run"]["titles"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "no question file at missing.jsonl"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--squad", "missing.json"], "missing.json"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    result = qa("eval", *args, "--out", str(out))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists()


def test_a_bad_line_in_the_question_file_is_named(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "Wer?", "answers": ["x"], "gold": [], "answerable": true}\n{oops\n')
    result = qa("eval", str(questions), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert f"{questions}, line 2: not JSON" in result.stderr


def test_an_index_that_eval_did_not_make_is_refused(tmp_path):
    index = tmp_path / "my-index"
    index.mkdir()
    (index / "docstore.sqlite").write_bytes(b"precious")
    result = qa("eval", "--index", str(index), "--limit", "1", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "did not put there" in result.stderr
    assert (index / "docstore.sqlite").read_bytes() == b"precious"
