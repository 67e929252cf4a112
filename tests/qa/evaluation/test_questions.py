"""Checks on the fixed evaluation questions in ``seeds/questions.jsonl``: format, balance, and gold
sentences that are verbatim whole sentences of the seed articles."""

import json
from collections import Counter
from functools import cache

import pytest

from index.language import detect_language
from index.loading import load_document
from tests.conftest import ROOT, SEEDS

QUESTIONS_FILE = SEEDS / "questions.jsonl"
KEYS = ["id", "question", "language", "answers", "gold", "answerable"]
MAX_BYTES = 5_000_000


def _load_questions() -> list[dict]:
    lines = QUESTIONS_FILE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


QUESTIONS = _load_questions()
SEED_IDS = sorted(path.stem for path in SEEDS.glob("*.txt"))
SENTENCES: dict[str, list[str]] = json.loads((ROOT / "tests/data/seed_sentences.json").read_text(encoding="utf-8"))
GOLD = [(q["id"], gold["doc"], gold["sentence"]) for q in QUESTIONS for gold in q["gold"]]


@cache
def _document_text(doc_id: str) -> str:
    document, _ = load_document(SEEDS / f"{doc_id}.txt", MAX_BYTES)
    return document.text


def test_every_line_is_a_json_object() -> None:
    for number, line in enumerate(QUESTIONS_FILE.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"blank line {number}"
        assert isinstance(json.loads(line), dict), f"line {number} is not an object"


@pytest.mark.parametrize("question", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_question_has_the_expected_keys_and_types(question: dict) -> None:
    assert list(question) == KEYS
    assert isinstance(question["id"], str) and question["id"].startswith(f"{question['language']}-")
    assert isinstance(question["question"], str) and question["question"].strip()
    assert question["language"] in {"de", "en"}
    assert isinstance(question["answers"], list)
    assert all(isinstance(answer, str) and answer.strip() for answer in question["answers"])
    assert isinstance(question["gold"], list)
    for gold in question["gold"]:
        assert isinstance(gold, dict) and list(gold) == ["doc", "sentence"]
        assert isinstance(gold["doc"], str) and isinstance(gold["sentence"], str)
    assert isinstance(question["answerable"], bool)


def test_ids_are_unique() -> None:
    duplicates = [qid for qid, count in Counter(q["id"] for q in QUESTIONS).items() if count > 1]
    assert not duplicates


def test_enough_questions_balanced_by_language() -> None:
    languages = Counter(q["language"] for q in QUESTIONS)
    assert len(QUESTIONS) >= 60
    assert languages["de"] == languages["en"]


def test_enough_unanswerable_questions() -> None:
    assert sum(not q["answerable"] for q in QUESTIONS) >= 8


@pytest.mark.parametrize("question", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_answerable_matches_answers_and_gold(question: dict) -> None:
    if question["answerable"]:
        assert question["answers"] and question["gold"]
    else:
        assert question["answers"] == [] and question["gold"] == []


@pytest.mark.parametrize(("qid", "doc", "sentence"), GOLD, ids=[f"{qid}-{doc[:3]}" for qid, doc, _ in GOLD])
def test_gold_sentence_is_verbatim_in_its_document(qid: str, doc: str, sentence: str) -> None:
    assert doc in SEED_IDS, f"{qid}: unknown document {doc}"
    assert sentence in _document_text(doc)


@pytest.mark.parametrize(("qid", "doc", "sentence"), GOLD, ids=[f"{qid}-{doc[:3]}" for qid, doc, _ in GOLD])
def test_gold_sentence_is_a_whole_sentence_of_the_split(qid: str, doc: str, sentence: str) -> None:
    assert sentence in SENTENCES[doc], f"{qid}: not a sentence of {doc}"


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_every_seed_article_has_an_answerable_question(doc_id: str) -> None:
    assert any(q["answerable"] and any(g["doc"] == doc_id for g in q["gold"]) for q in QUESTIONS)


@pytest.mark.parametrize("question", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_question_language_is_detected(question: dict) -> None:
    assert detect_language(question["question"]) == question["language"]


def test_the_sentence_split_covers_every_seed() -> None:
    assert SEED_IDS and set(SENTENCES) == set(SEED_IDS)
