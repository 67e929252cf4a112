"""SQuAD-format files become article files the indexer reads and questions whose gold sentences are
sentences of the articles as loaded."""

import json
import logging
import re
from pathlib import Path

import pytest

from index.errors import UserError
from index.loading import load_document, load_documents
from index.sentences import split_sentences
from qa.evaluation.squad import _as_loaded, load_squad
from tests.conftest import DATA

SAMPLE = DATA / "squad_sample.json"
BIG = 10_000_000


@pytest.fixture
def loaded(tmp_path: Path):
    corpus = tmp_path / "out" / "corpus"
    return load_squad(SAMPLE, corpus), corpus


def by_id(squad) -> dict[str, dict]:
    return {q["id"]: q for q in squad.questions}


def sentences_of(path: Path) -> list[str]:
    document, _ = load_document(path, BIG)
    return [document.text[s.start : s.end] for s in split_sentences(document.text)]


def test_one_safely_named_file_per_article(loaded, tmp_path):
    squad, corpus = loaded
    names = sorted(p.name for p in corpus.iterdir())
    assert squad.documents == 3
    assert names == ["0001_berliner-mauer.html", "0002_aerger-mit-pfaden.html", "0003_article-3.html"]
    assert all(re.fullmatch(r"\d{4}_[a-z0-9-]+\.html", name) for name in names)
    # Nothing beside the corpus: no staging folder left, nothing written along the unsafe title.
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "out",
        "out/corpus",
        *(f"out/corpus/{name}" for name in names),
    ]


def test_titles_read_back_by_the_loader(loaded):
    _, corpus = loaded
    titles = [load_document(path, BIG)[0].title for path in sorted(corpus.iterdir())]
    assert titles == ["Berliner Mauer", "../Ärger/mit: Pfaden", "Article 3"]


def test_the_indexer_reads_every_article(loaded):
    squad, corpus = loaded
    result = load_documents([corpus], BIG)
    assert not result.skipped
    assert [d.doc_id for d in result.documents] == ["0001_berliner-mauer", "0002_aerger-mit-pfaden", "0003_article-3"]
    berlin = result.documents[0].text
    assert "Von 1961 bis 1989 trennte die Mauer West-Berlin vom Umland der DDR." in berlin
    assert {g["doc"] for q in squad.questions for g in q["gold"]} <= {d.doc_id for d in result.documents}


def test_every_gold_sentence_is_a_split_sentence_of_its_loaded_article(loaded):
    squad, corpus = loaded
    for question in squad.questions:
        for gold in question["gold"]:
            (path,) = corpus.glob(f"{gold['doc']}.html")
            document, _ = load_document(path, BIG)
            assert gold["sentence"] in document.text
            assert gold["sentence"] in sentences_of(path), question["id"]
        assert len(question["gold"]) == len({(g["doc"], g["sentence"]) for g in question["gold"]})


def test_answer_after_a_date_and_an_abbreviation_gets_its_own_sentence(loaded):
    squad, corpus = loaded
    question = by_id(squad)["mauer-3"]
    sentences = sentences_of(corpus / "0001_berliner-mauer.html")
    opening = "Die Sanierung der Gedenkstätte begann am 7. September 2015 und umfasste z. B. die Fassade und das Dach."
    assert opening in sentences
    assert question["gold"] == [
        {"doc": "0001_berliner-mauer", "sentence": "Die Kosten beliefen sich auf 12 Mio. Euro."}
    ]


def test_offsets_pick_the_occurrence_in_the_answers_own_paragraph_and_sentence(loaded):
    squad, _ = loaded
    questions = by_id(squad)
    opened = [{"doc": "0001_berliner-mauer", "sentence": "Am 9. November 1989 wurde die Mauer überraschend geöffnet."}]
    # "1989" and "die Mauer" stand in the first paragraph too; "DDR" ends both of its sentences.
    assert questions["mauer-2"]["gold"] == opened
    assert questions["mauer-wrong-offset"]["gold"] == opened
    assert questions["mauer-no-offset"]["gold"] == opened
    assert questions["mauer-1"]["gold"] == [
        {"doc": "0001_berliner-mauer", "sentence": "Die Berliner Mauer war ein Grenzbefestigungssystem der DDR."}
    ]


def test_offsets_survive_normalised_white_space_and_decomposed_umlauts(loaded):
    squad, _ = loaded
    questions = by_id(squad)
    assert questions["pfad-1"]["gold"] == [
        {
            "doc": "0002_aerger-mit-pfaden",
            "sentence": "Am Ende einigte man sich in München auf einen Kompromiss über die Wegerechte.",
        }
    ]
    assert questions["42"]["gold"] == [
        {"doc": "0002_aerger-mit-pfaden", "sentence": "Unterschrieben hat ihn Bürgermeister Karl Huber."}
    ]


def test_positions_map_every_character_to_its_loaded_place():
    raw = "  Erst\r\nZeile\x00 mit\t\tTab und Mu\u0308nchen.\n \n\nNeuer  Absatz \u2028 Ende. "
    text, positions = _as_loaded(raw)
    assert text == "Erst\nZeile mit Tab und München.\n\nNeuer Absatz Ende."
    assert len(positions) == len(raw) + 1 and positions[-1] == len(text)
    for word in ("Zeile", "Tab", "München", "Neuer", "Ende"):
        source = raw.index(word if word != "München" else "Mu\u0308nchen")
        assert text.startswith(word, positions[source])


def test_answer_start_is_carried_through_squashed_white_space(tmp_path):
    # Without the mapping, the offset would land nearer the second "die SPD", in the other sentence.
    context = "Die Wahl" + " " * 20 + "gewann die SPD. Die CDU verlor gegen die SPD."
    qa = {"id": "w", "question": "Wer gewann?", "answers": [{"text": "die SPD", "answer_start": context.index("die")}]}
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"data": [_article(context, [qa])]}), encoding="utf-8")
    squad = load_squad(source, tmp_path / "corpus")
    assert squad.questions[0]["gold"] == [{"doc": "0001_t", "sentence": "Die Wahl gewann die SPD."}]


def test_unanswerable_question(loaded):
    squad, _ = loaded
    question = by_id(squad)["mauer-impossible"]
    assert question["answerable"] is False
    assert question["answers"] == []
    assert question["gold"] == []


def test_aliases_are_the_distinct_answer_texts(loaded):
    squad, _ = loaded
    questions = by_id(squad)
    assert questions["mauer-1"]["answers"] == ["DDR", "der DDR"]
    assert questions["pfad-2"]["answers"] == ["am 3. Oktober 2001", "3. Oktober 2001"]
    assert questions["pfad-2"]["gold"] == [
        {"doc": "0002_aerger-mit-pfaden", "sentence": "Der Vertrag wurde am 3. Oktober 2001 unterzeichnet."}
    ]


def test_ids_languages_and_the_question_format(loaded):
    squad, _ = loaded
    ids = [q["id"] for q in squad.questions]
    assert ids == [
        "mauer-1",
        "mauer-impossible",
        "mauer-2",
        "mauer-wrong-offset",
        "mauer-no-offset",
        "mauer-3",
        "pfad-1",
        "pfad-2",
        "42",
        "fest-1",
        "mauer-2-2",
    ]
    assert all(set(q) == {"id", "question", "language", "answers", "gold", "answerable"} for q in squad.questions)
    assert by_id(squad)["42"]["language"] == "en"
    assert by_id(squad)["mauer-2"]["language"] == "de"
    assert json.loads(json.dumps(squad.questions)) == squad.questions


def test_unusable_questions_are_skipped_with_a_reason(loaded):
    squad, _ = loaded
    assert len(squad.skipped) == 2
    no_answer, missing = squad.skipped
    assert no_answer.startswith("pfad-no-answer") and "no answer" in no_answer and "impossible" in no_answer
    assert missing.startswith("pfad-missing") and "'Greenpeace' is not found" in missing
    assert not {"pfad-no-answer", "pfad-missing"} & {q["id"] for q in squad.questions}


def test_summary_is_logged(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="qa.evaluation.squad"):
        load_squad(SAMPLE, tmp_path / "corpus")
    assert "3 articles, 11 questions (1 unanswerable), 2 skipped" in caplog.text


def _article(context: str = "Ein Satz über Bonn.", qas: object = None) -> dict:
    if qas is None:
        qas = [{"id": "a", "question": "Welche Stadt?", "answers": [{"text": "Bonn", "answer_start": 14}]}]
    return {"title": "T", "paragraphs": [{"context": context, "qas": qas}]}


BAD_INPUTS = {
    "not JSON": ('{"data": [', "is not JSON"),
    "a list": ("[]", "not in SQuAD format"),
    "no data": ('{"version": "1.1"}', "'data' list"),
    "empty data": ('{"data": []}', "no articles"),
    "no paragraphs": ('{"data": [{"title": "T"}]}', "article 1 has no 'paragraphs' list"),
    "no context": (
        json.dumps({"data": [_article(), {"paragraphs": [{"qas": []}]}]}),
        "article 2, paragraph 1 has no 'context' text",
    ),
    "qas not a list": (json.dumps({"data": [_article(qas={"id": "a"})]}), "'qas' is not a list"),
    "no questions": (json.dumps({"data": [_article(qas=[])]}), "has no questions"),
    "no usable questions": (
        json.dumps({"data": [_article(context="Ein Satz über Köln.")]}),
        "no usable questions; all 1 were skipped (first: a in 'T': the answer 'Bonn' is not found",
    ),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path, name):
    content, expected = BAD_INPUTS[name]
    source = tmp_path / "in.json"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=re.escape(expected)) as raised:
        load_squad(source, tmp_path / "corpus")
    assert "\n" not in str(raised.value)
    assert str(source) in str(raised.value)
    assert list(tmp_path.iterdir()) == [source]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "no SQuAD file at"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b'{"data": "\xff\xfe"}'), "not a UTF-8 text file"),
    ],
    ids=["missing", "folder", "not UTF-8"],
)
def test_unreadable_file_is_one_clear_error(tmp_path, make, expected):
    source = tmp_path / "in.json"
    make(source)
    with pytest.raises(UserError, match=expected):
        load_squad(source, tmp_path / "corpus")
    assert not (tmp_path / "corpus").exists()


def test_non_empty_corpus_folder_is_refused(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mine.txt").write_text("Nicht überschreiben.", encoding="utf-8")
    with pytest.raises(UserError, match="is not empty"):
        load_squad(SAMPLE, corpus)
    assert [p.name for p in corpus.iterdir()] == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]


def test_corpus_path_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "corpus"
    target.write_text("", encoding="utf-8")
    with pytest.raises(UserError, match="is a file"):
        load_squad(SAMPLE, target)


def test_empty_corpus_folder_is_used(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    squad = load_squad(SAMPLE, corpus)
    assert squad.documents == len(list(corpus.iterdir())) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]


def test_missing_titles_and_ids_get_defaults(tmp_path):
    source = tmp_path / "in.json"
    article = _article()
    del article["title"], article["paragraphs"][0]["qas"][0]["id"]
    source.write_text(json.dumps({"version": "v2.0", "data": [article]}), encoding="utf-8")
    squad = load_squad(source, tmp_path / "corpus")
    (path,) = (tmp_path / "corpus").iterdir()
    assert path.name == "0001_article-1.html"
    assert load_document(path, BIG)[0].title == "Article 1"
    assert [q["id"] for q in squad.questions] == ["1-1-1"]
    assert squad.questions[0]["gold"] == [{"doc": "0001_article-1", "sentence": "Ein Satz über Bonn."}]
