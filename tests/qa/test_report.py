"""The evaluation's files and its summary, from hand-made predictions (no models): what a reader
finds in them, and that a rerun replaces them whole."""

import json

import pytest

from qa.engine import QuestionError
from qa.evaluation.metrics import compute_metrics, question_metrics
from qa.evaluation.report import render_report, summary_text, write_results
from qa.evaluation.runner import QuestionSetError, answer_language, evaluate, load_questions

GOLD = {"doc": "004_a", "sentence": "Lawrow kam am Mittwoch in Pjöngjang an."}
RUN = {
    "questions_file": "seeds/questions.jsonl",
    "corpus": "seeds",
    "model": "llama.cpp test.gguf",
    "date": "2026-11-23T10:00:00+00:00",
    "command": "qa eval --limit 3",
    "settings": {"prompt_sentences": "4"},
    "titles": {"004_a": "Lawrow in Nordkorea"},
}


def make_prediction(qid: str, answer: str, answerable: bool, expected: dict, cited: bool, language: str = "de"):
    citations = (
        [
            {
                "doc_id": GOLD["doc"],
                "title": "Lawrow in Nordkorea",
                "sentence_index": 3,
                "sentence": GOLD["sentence"],
                "start": 10,
                "end": 49,
                "score": 0.9,
            }
        ]
        if cited
        else []
    )
    prediction = {
        "id": qid,
        "question": f"Frage {qid}?",
        "language": language,
        "answer": answer,
        "answer_language": language,
        "answerable": answerable,
        "citations": citations,
        "retrieved": [{"doc_id": GOLD["doc"], "sentence_index": 3, "sentence": GOLD["sentence"]}],
        "latency_s": 6.0,
        "first_token_s": 4.0,
        "notes": ["a note"],
        "expected": expected,
        "articles": sorted({g["doc"] for g in expected["gold"]}),
    }
    prediction["metrics"] = question_metrics(prediction, expected)
    return prediction


@pytest.fixture
def predictions():
    answerable = {"answerable": True, "answers": ["Mittwoch", "Wednesday"], "gold": [GOLD], "language": "de"}
    unanswerable = {"answerable": False, "answers": [], "gold": [], "language": "en"}
    return [
        make_prediction("de-01", "Am Mittwoch [1].", True, answerable, cited=True),
        make_prediction("de-02", "Am Donnerstag [1].", True, answerable, cited=True),
        make_prediction("en-40", "He ate rice [1].", True, unanswerable, cited=True, language="en"),
    ]


def test_results_are_written_whole_and_a_rerun_replaces_them(tmp_path, predictions):
    metrics = compute_metrics(predictions)
    files = write_results(tmp_path / "out", predictions, metrics, RUN)
    lines = files.predictions.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["de-01", "de-02", "en-40"]
    stored = json.loads(files.metrics.read_text())
    assert stored["run"]["model"] == "llama.cpp test.gguf"
    assert stored["overall"]["accuracy"] == 0.5 and stored["overall"]["abstention_accuracy"] == 0.0
    assert files.chart.read_bytes()[:4] == b"\x89PNG"

    again = write_results(tmp_path / "out", predictions[:1], compute_metrics(predictions[:1]), RUN)
    assert len(again.predictions.read_text().splitlines()) == 1
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_the_report_puts_answered_unanswerable_questions_first_and_shows_the_evidence(predictions):
    report = render_report(predictions, compute_metrics(predictions), RUN, "chart.png")
    assert "answered by **llama.cpp test.gguf**" in report
    assert "| Correct answer | 50.0 % | 50.0 % | – |" in report
    assert "Lawrow in Nordkorea (`004_a`)" in report
    failures = report.split("## Worst failures")[1]
    assert "2 of 3 questions failed" in failures
    assert failures.index("en-40") < failures.index("de-02")
    assert "answered a question the articles cannot answer" in failures
    assert "- **Gold** `004_a`: Lawrow kam am Mittwoch in Pjöngjang an." in failures
    assert "de-01" not in failures
    assert "Reproduce: `qa eval --limit 3`" in report


def test_the_summary_fits_one_screen_with_a_column_per_language(predictions):
    text = summary_text(compute_metrics(predictions))
    lines = text.splitlines()
    assert len(lines) <= 24 and max(map(len, lines)) <= 100
    assert lines[0] == "3 questions: 2 answerable, 1 unanswerable"
    assert lines[1].split() == ["all", "de", "en"]
    assert "Seconds per answer, median" in text and "6.00 s" in text


def test_answer_language_is_none_when_the_answer_is_too_short_to_tell():
    assert answer_language("Wonsan [1].") is None
    assert answer_language("He arrived on Wednesday [1].") == "en"
    assert answer_language("Er kam am Mittwoch an [1].") == "de"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no questions"),
        ('["a list"]\n', "line 1: expected a JSON object"),
        ('{"id": "x", "question": " "}\n', "line 1: 'question' must be a non-empty string"),
        ('{"id": "x", "question": "Wer?", "answerable": true, "answers": []}\n', "needs at least one accepted"),
        ('{"id": "x", "question": "Wer?", "answers": ["a"], "gold": [{"doc": 1}]}\n', "'gold' must be a list"),
        ('{"id": "x", "question": "Wer?", "answers": ["a"]}\n' * 2, "line 2: the id 'x' occurs twice"),
    ],
)
def test_question_files_with_mistakes_are_refused_with_the_line(tmp_path, content, message):
    path = tmp_path / "q.jsonl"
    path.write_text(content)
    with pytest.raises(QuestionSetError, match=message):
        load_questions(path)


def test_a_question_without_language_gets_the_detected_one(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Who is Lavrov?", "answers": ["minister"]}\n')
    assert load_questions(path)[0]["language"] == "en"


def test_a_question_the_engine_refuses_stops_the_run_naming_it():
    class Engine:
        class llm:
            @staticmethod
            def warm_up():
                pass

        def stream(self, question):
            raise QuestionError("the question has 2001 characters; the limit is 2000")

    with pytest.raises(QuestionSetError, match="question de-09: the question has 2001 characters"):
        evaluate(Engine(), [{"id": "de-09", "question": "x" * 2001}], progress=False)
