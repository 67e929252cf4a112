"""The evaluation's files and its summary, from hand-made predictions (no models): what a reader
finds in them, and that a rerun replaces them whole."""

import json
import struct
from types import SimpleNamespace

import pytest
from matplotlib.figure import Figure

from qa.answer import Answer, Citation
from qa.engine import QuestionError
from qa.evaluation.charts import draw_panels
from qa.evaluation.metrics import compute_metrics, question_metrics
from qa.evaluation.report import operating_threshold, render_report, summary_text, write_results
from qa.evaluation.runner import QuestionSetError, answer_language, evaluate, load_questions, predict

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
        def ready_llm(self):
            pass

        def article_text(self, doc_id):
            return ""

        def stream(self, question):
            raise QuestionError("the question has 2001 characters; the limit is 2000")

    with pytest.raises(QuestionSetError, match="question de-09: the question has 2001 characters"):
        evaluate(Engine(), [{"id": "de-09", "question": "x" * 2001}], progress=False)


# Trust: wrong answers with citations, the verifier's confidence, and what a threshold trades.

ANSWERABLE = {"answerable": True, "answers": ["Mittwoch", "Wednesday"], "gold": [GOLD], "language": "de"}
UNANSWERABLE = {"answerable": False, "answers": [], "gold": [], "language": "en"}
ABSTENTION = "Dazu steht in den Artikeln nichts."
SCORED_RUN = RUN | {"settings": {"prompt_sentences": "3", "min_confidence": "0.5"}}


def with_draft(prediction: dict, confidence: float, withheld: dict | None = None) -> dict:
    """The verifier's fields as the runner records them; a withheld draft is scored as if it were shown."""
    prediction |= {"confidence": confidence, "verified": True, "unsupported_claims": [], "withheld": None}
    prediction["draft_metrics"] = dict(prediction["metrics"])
    if withheld is not None:
        prediction["withheld"] = {"answer": withheld["answer"], "citations": withheld["citations"], "notes": []}
        prediction["draft_metrics"] = withheld["metrics"]
    return prediction


@pytest.fixture
def scored():
    """de-01 right (0.8); de-02 wrong and cited, withheld at 0.4; en-40 answers the unanswerable, cited (0.6)."""
    draft = make_prediction("de-02", "Am Donnerstag [1].", True, ANSWERABLE, cited=True)
    return [
        with_draft(make_prediction("de-01", "Am Mittwoch [1].", True, ANSWERABLE, cited=True), 0.8),
        with_draft(make_prediction("de-02", ABSTENTION, False, ANSWERABLE, cited=False), 0.4, withheld=draft),
        with_draft(make_prediction("en-40", "He ate rice [1].", True, UNANSWERABLE, cited=True, language="en"), 0.6),
    ]


def test_the_figures_show_wrong_with_citation_answered_precision_and_coverage(predictions):
    metrics = compute_metrics(predictions)
    report = render_report(predictions, metrics, RUN, "chart.png")
    assert "| Wrong with citation (of all) | 66.7 % | 50.0 % | 100.0 % |" in report
    assert "| Answered precision | 33.3 % | 50.0 % | 0.0 % |" in report
    assert "| Coverage (answerable answered) | 100.0 % | 100.0 % | – |" in report
    figures = report.split("## Figures")[1].split("##")[0]
    assert figures.index("Correct and a gold sentence cited") < figures.index("Wrong with citation (of all)")
    assert figures.index("Coverage (answerable answered)") < figures.index("Token F1")
    stored = metrics["overall"]
    assert (stored["wrong_with_citation"], stored["answered_precision"], stored["coverage"]) == (0.6667, 0.3333, 1.0)


def test_the_summary_shows_the_trust_figures_on_one_screen(predictions):
    lines = summary_text(compute_metrics(predictions)).splitlines()
    assert len(lines) <= 24
    rows = {line[:38].strip(): line[38:].split() for line in lines[2:]}
    assert rows["Wrong with citation (of all)"] == ["66.7", "%", "50.0", "%", "100.0", "%"]
    assert rows["Answered precision"] == ["33.3", "%", "50.0", "%", "0.0", "%"]
    assert rows["Coverage (answerable answered)"] == ["100.0", "%", "100.0", "%", "–"]
    assert list(rows).index("Wrong with citation (of all)") == 2


def test_the_report_tabulates_risk_and_coverage_per_language_and_marks_the_run(scored):
    metrics = compute_metrics(scored, operating_threshold=0.5)
    report = render_report(scored, metrics, SCORED_RUN, "chart.png")
    risk = report.split("## Risk and coverage")[1].split("## By article")[0]
    assert "coverage falls" in risk
    everything = risk.split("**All** (n=3)")[1].split("**de**")[0]
    # Kept at 0.0–0.4: all three drafts; at 0.5–0.6: de-01 and en-40; at 0.7–0.8: de-01; at 0.9: none.
    assert "| 0.00 | 100.0 % | 66.7 % | 33.3 % | 3 |" in everything
    assert "| 0.40 | 100.0 % | 66.7 % | 33.3 % | 3 |" in everything
    assert "| **0.50 (this run)** | 50.0 % | 33.3 % | 50.0 % | 2 |" in everything
    assert "| 0.60 | 50.0 % | 33.3 % | 50.0 % | 2 |" in everything
    assert "| 0.80 | 50.0 % | 0.0 % | 100.0 % | 1 |" in everything
    assert "| 0.90 | 0.0 % | 0.0 % | – | 0 |" in everything
    assert everything.count("\n| ") == 11  # header and ten thresholds, the run's being one of them
    english = risk.split("**en** (n=1)")[1]
    assert "| 0.60 | – | 100.0 % | 0.0 % | 1 |" in english
    assert "| 0.70 | – | 0.0 % | – | 0 |" in english
    # The figure table agrees with the operating point: de-02 was withheld, so only en-40 is wrong and cited.
    assert "| Wrong with citation (of all) | 33.3 % | 0.0 % | 100.0 % |" in report


def test_the_risk_table_without_a_threshold_or_drafts(scored, predictions):
    risk = render_report(scored, compute_metrics(scored), RUN, "c.png").split("## Risk and coverage")[1]
    assert "this run" not in risk.split("## By article")[0]
    old = render_report(predictions, compute_metrics(predictions), RUN, "c.png").split("## Risk and coverage")[1]
    assert old.split("## By article")[0].strip() == (
        "This run recorded no drafted answers with the verifier's confidence, so there is no curve."
    )


def test_operating_threshold_comes_from_the_run_settings():
    assert operating_threshold(SCORED_RUN) == 0.5
    assert operating_threshold(RUN) is None
    assert operating_threshold({}) is None
    assert operating_threshold({"settings": {"min_confidence": "high"}}) is None


def test_worst_failures_put_wrong_cited_answers_first_with_verdict_evidence_and_claims(predictions):
    abstained = make_prediction("de-03", ABSTENTION, False, ANSWERABLE, cited=False)
    wrong = predictions[1]
    wrong["citations"][0] |= {"verdict": "related", "evidence_start": None, "evidence_end": None, "evidence": ""}
    wrong["unsupported_claims"] = ["Er kam am Donnerstag."]
    unanswerable = predictions[2]
    unanswerable["citations"][0] |= {"verdict": "states", "evidence_start": 28, "evidence_end": 37}
    unanswerable["citations"][0]["evidence"] = "Pjöngjang"
    failed = [abstained, wrong, unanswerable]
    report = render_report(failed, compute_metrics(failed), RUN, "chart.png")
    failures = report.split("## Worst failures")[1]
    assert "3 of 3 questions failed, 2 of them with a wrong answer that carries a citation" in failures
    # An abstention is a failure, but a cheaper one than a wrong answer that cites a sentence.
    assert failures.index("en-40") < failures.index("de-02") < failures.index("de-03")
    assert "### en-40 (en): answered a question the articles cannot answer, with a citation" in failures
    assert "### de-02 (de): wrong answer, with a citation" in failures
    assert "- **Cited [1]** `004_a` #3 (states; evidence: “Pjöngjang”): Lawrow kam" in failures
    assert "- **Cited [1]** `004_a` #3 (related): Lawrow kam" in failures
    assert "- **Unsupported claims:** Er kam am Donnerstag." in failures


def test_worst_failures_show_the_withheld_draft_and_its_confidence(scored):
    failures = render_report(scored, compute_metrics(scored), SCORED_RUN, "c.png").split("## Worst failures")[1]
    withheld = failures.split("### de-02")[1]
    assert "abstained although the articles answer it" in withheld
    assert "- **Verifier confidence:** 0.40 (withheld)" in withheld
    assert "- **Withheld draft:** Am Donnerstag [1].\n  - **Cited [1]** `004_a` #3: Lawrow kam" in withheld
    assert "- **Verifier confidence:** 0.60 (shown)" in failures.split("### en-40")[1]


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_chart_has_a_fourth_panel_of_risk_against_coverage(tmp_path, scored):
    metrics = compute_metrics(scored, operating_threshold=0.5)
    figure = Figure(figsize=(21, 5))
    panels = draw_panels(figure, metrics, scored, operating=0.5)
    assert len(panels) == len(figure.axes) == 4
    risk = panels[3]
    assert risk.get_title().startswith("Risk–coverage")
    lines = {line.get_label(): line for line in risk.get_lines()}
    assert {"German", "All", "this run (≥ 0.5)"} <= set(lines)
    assert "English" not in lines  # no answerable English question, so no coverage to draw
    # "All": coverage (x) and wrong with citation (y) in % at the curve's thresholds 0, 0.4, 0.5, 0.6, 0.8, 0.81.
    assert list(lines["All"].get_xdata()) == pytest.approx([100, 100, 50, 50, 50, 0])
    assert list(lines["All"].get_ydata()) == pytest.approx([66.67, 66.67, 33.33, 33.33, 0, 0])
    stars = [line for line in risk.get_lines() if line.get_marker() == "*" and len(line.get_xdata())]
    assert [line.get_xdata()[0] for line in stars] == pytest.approx([50, 50])  # German, then All
    assert [line.get_ydata()[0] for line in stars] == pytest.approx([0, 33.33])

    files = write_results(tmp_path, scored, metrics, SCORED_RUN)
    width, height = png_size(files.chart)
    assert width > 3.5 * height


def test_predict_records_the_verifier_and_scores_a_withheld_draft():
    cited = Citation(
        doc_id=GOLD["doc"],
        title="Lawrow in Nordkorea",
        source="004_a.txt",
        sentence_index=3,
        sentence=GOLD["sentence"],
        start=10,
        end=49,
        score=0.7,
        verdict="related",
        evidence_start=10,
        evidence_end=16,
    )
    draft = Answer("Am Donnerstag [1].", "de", True, [cited], confidence=0.3, unsupported_claims=["Donnerstag"])
    final = Answer(ABSTENTION, "de", False, notes=["withheld"], confidence=None, verified=False, withheld=draft)

    class Engine:
        def stream(self, question):
            yield "Dazu "
            yield final

        def retrieve(self, question, k):
            return [SimpleNamespace(doc_id=GOLD["doc"], sentence_index=3, sentence=GOLD["sentence"], also=())]

    question = {"id": "de-02", "question": "Wann kam Lawrow an?", "language": "de", **ANSWERABLE}
    prediction = predict(Engine(), question)
    assert prediction["confidence"] == 0.3
    assert prediction["verified"] is False
    assert prediction["withheld"]["answer"] == "Am Donnerstag [1]."
    assert prediction["withheld"]["notes"] == []
    assert prediction["withheld"]["citations"][0] == {
        "doc_id": "004_a",
        "title": "Lawrow in Nordkorea",
        "sentence_index": 3,
        "sentence": GOLD["sentence"],
        "start": 10,
        "end": 49,
        "score": 0.7,
        "verdict": "related",
        "evidence_start": 10,
        "evidence_end": 16,
        "evidence": "Lawrow",
        "also": [],
    }
    assert prediction["metrics"]["abstained"] is True and prediction["metrics"]["wrong_with_citation"] is False
    draft_metrics = prediction["draft_metrics"]
    assert draft_metrics["abstained"] is False
    assert (draft_metrics["answered"], draft_metrics["wrong_with_citation"], draft_metrics["answered_right"]) == (
        True,
        True,
        False,
    )
    assert draft_metrics["gold_cited"] is True and draft_metrics["correct"] is False
    json.dumps(prediction)  # every field is plain data


def test_predict_without_a_draft_and_with_a_shown_answer():
    class Engine:
        def __init__(self, answer):
            self.answer = answer

        def stream(self, question):
            yield self.answer

        def retrieve(self, question, k):
            return []

    question = {"id": "de-05", "question": "Wann?", "language": "de", **ANSWERABLE}
    nothing = predict(Engine(Answer(ABSTENTION, "de", False)), question)
    assert (nothing["confidence"], nothing["withheld"], nothing["draft_metrics"]) == (None, None, None)
    shown = predict(Engine(Answer("Am Mittwoch.", "de", True, confidence=0.9)), question)
    assert shown["confidence"] == 0.9 and shown["verified"] is True and shown["unsupported_claims"] == []
    assert shown["draft_metrics"] == shown["metrics"]
    assert shown["draft_metrics"]["answered"] is True


def test_the_report_and_summary_split_wrong_with_citation_by_cause(predictions):
    metrics = compute_metrics(predictions)
    report = render_report(predictions, metrics, RUN, "chart.png")
    assert "| &nbsp;&nbsp;of it: wrong sentence cited | 0.0 % | 0.0 % | 0.0 % |" in report
    assert "| &nbsp;&nbsp;of it: gold cited, misread | 33.3 % | 50.0 % | 0.0 % |" in report
    assert "| &nbsp;&nbsp;of it: unanswerable answered | 33.3 % | 0.0 % | 100.0 % |" in report
    figures = report.split("## Figures")[1].split("##")[0]
    assert figures.index("Wrong with citation (of all)") < figures.index("of it: wrong sentence cited")
    lines = summary_text(metrics).splitlines()
    assert len(lines) <= 24
    rows = {line[:38].strip(): line[38:].split() for line in lines[2:]}
    assert rows["of it: gold cited, misread"] == ["33.3", "%", "50.0", "%", "0.0", "%"]
    assert rows["of it: unanswerable answered"] == ["33.3", "%", "0.0", "%", "100.0", "%"]
    assert "Retrieval recall@5" not in rows and "Retrieval recall@5" in report
