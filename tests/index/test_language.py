"""German-or-English detection of questions, also short ones whose words are German and English alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.language import detect_language, language_evidence

ROOT = Path(__file__).resolve().parents[2]
#: The dev sets lie in shared/ beside the checkout (so too in CI).
SHARED_DEV = ROOT.parent / "shared" / "dev"
QUESTION_SETS = {
    "seeds": ROOT / "seeds" / "questions.jsonl",
    "news": SHARED_DEV / "news" / "questions.jsonl",
    "xquad": SHARED_DEV / "xquad" / "questions.jsonl",
}
#: Questions per set whose language was mistaken when this detector was chosen (884 of 886 right,
#: 99.77 %): "Wer spielt Lara Croft in Rise of the Tomb Raider?" (German, read as English) and
#: "How are ergänzungsschulen funded?" (English, read as German). Not to be raised.
MEASURED_ERRORS = {"seeds": 0, "news": 1, "xquad": 1}


@pytest.mark.parametrize(
    "question",
    [
        "In which year was North Korea founded?",
        "In which year was Berlin founded?",
        "Who is Jens Spahn?",
        "Who is Olaf Scholz?",
        "When did Lavrov speak with Amir-Abdollahian?",
        "Is Wien the capital of Austria?",
        "What is Hamas?",
        "When?",
    ],
)
def test_short_english_questions_with_german_looking_words_are_english(question: str) -> None:
    assert detect_language(question) == "en"


@pytest.mark.xfail(
    strict=True,
    reason="known limit: 'Was <name> in <place>?' reads as German to the identifier (p 0.90) and to the "
    "function words ('was'); nothing but a rule for this very pattern would tell it apart",
)
def test_was_name_in_place_is_english() -> None:
    assert detect_language("Was Merkel in Berlin?") == "en"


@pytest.mark.parametrize(
    "question",
    [
        "Wann wurde die SPÖ gegründet?",
        "Wer ist Olaf Scholz?",
        "Wer ist Jens Spahn?",
        "Wo ist Wien?",
        "Was ist die Hamas?",
        "Was ist los?",
        "Wer gewann?",
        "In welchem Jahr wurde Nordkorea gegründet?",
    ],
)
def test_german_questions_are_german(question: str) -> None:
    assert detect_language(question) == "de"


def test_the_north_korea_question_was_the_old_failure() -> None:
    """Function words alone tie on it (1 to 1: "was" against "which"), and ties went to German."""
    assert language_evidence("In which year was North Korea founded?") == (1, 1)
    assert detect_language("In which year was North Korea founded?") == "en"


@pytest.mark.parametrize("text", ["", "   ", "2015", "1,2", "15.03.2024", "–"])
def test_a_text_without_letters_is_german_the_language_of_the_corpus(text: str) -> None:
    assert detect_language(text) == "de"
    assert language_evidence(text) == (0, 0)


@pytest.mark.parametrize(
    "names", ["Olaf Scholz", "Lawrow", "Kim Jong Un", "Amir-Abdollahian", "Sergej Lawrow, Wladimir Putin", "Wonsan."]
)
def test_names_alone_get_a_language_and_no_evidence(names: str) -> None:
    """Names alone tell no language for sure: detection still answers, and the evidence stays 0 to 0,
    which is how callers tell a text too short to judge (an answer "Wonsan.")."""
    assert detect_language(names) in ("de", "en")
    assert language_evidence(names) == (0, 0)


@pytest.mark.parametrize(
    "text", ["Olaf Scholz", "Kim Jong Un", "Nordkorea", "Sergej Lawrow, Wladimir Putin", "Lawrow traf Kim.", "Gut so."]
)
def test_names_and_short_texts_the_identifier_cannot_place_are_german(text: str) -> None:
    """Where the identifier is unsure and no function word leans either way, ties go to German."""
    assert detect_language(text) == "de"


def test_long_texts_and_sentences() -> None:
    assert detect_language("Die Hamas griff Israel an.") == "de"
    assert detect_language("Hamas attacked Israel.") == "en"
    body = (ROOT / "seeds" / "000_c0f6a50aa29bb6c2.txt").read_text(encoding="utf-8")
    assert detect_language(body[:5000]) == "de"


def _questions(path: Path) -> list[dict]:
    if not path.exists():
        pytest.skip(f"{path} is not there (the dev sets lie in shared/ beside the checkout)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", list(QUESTION_SETS))
def test_every_question_of_the_question_sets(name: str) -> None:
    questions = _questions(QUESTION_SETS[name])
    assert {q["language"] for q in questions} == {"de", "en"}
    wrong = [(q["id"], q["question"]) for q in questions if detect_language(q["question"]) != q["language"]]
    assert len(wrong) <= MEASURED_ERRORS[name], wrong


def test_accuracy_over_all_three_sets() -> None:
    questions = [q for path in QUESTION_SETS.values() for q in _questions(path)]
    right = sum(detect_language(q["question"]) == q["language"] for q in questions)
    assert len(questions) == 886
    assert right / len(questions) >= 0.9977  # 884 of 886, as measured
