"""Archives as they come: feeds, dumps, saved pages and PDFs from ``tests/data/archives``, each read
into documents with their dates, outlets and addresses; bad records reported by line."""

import json
import shutil
from pathlib import Path

import pytest

from index.dates import normalise_date
from index.loading import load_documents, load_file
from index.records import parse_fields
from index.sentences import split_sentences
from qa.engine import Engine
from qa.settings import Settings
from tests.conftest import DATA

ARCHIVES = DATA / "archives"
LIMIT = 50_000


def sentences(text: str) -> list[str]:
    return [text[span.start : span.end] for span in split_sentences(text)]


def assert_verbatim(document, sentence: str) -> None:
    """The sentence is one of the document's sentences, at offsets that give it back verbatim."""
    spans = split_sentences(document.text)
    found = [s for s in spans if document.text[s.start : s.end] == sentence]
    assert found, f"{sentence!r} is not a sentence of {document.doc_id}: {sentences(document.text)}"


def by_id(path: Path) -> dict:
    return {d.doc_id: d for d in load_file(path, LIMIT).documents}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-10-19", "2023-10-19"),
        ("2023-10-19T23:40:00+02:00", "2023-10-19"),
        ("2023-10", "2023-10"),
        ("19.10.2023", "2023-10-19"),
        ("5.11.2015", "2015-11-05"),
        ("5. November 2015", "2015-11-05"),
        ("Donnerstag, 19. Oktober 2023", "2023-10-19"),
        ("Thu, 19 Oct 2023 00:30:00 +0200", "2023-10-19"),
        ("October 19, 2023", "2023-10-19"),
        ("31.02.2023", None),
        ("gestern", None),
        ("2023", None),
        ("", None),
    ],
)
def test_dates_become_iso(value, expected):
    assert normalise_date(value) == expected


def test_an_rss_feed_gives_one_article_per_entry_and_reports_the_entry_without_text():
    loaded = load_file(ARCHIVES / "feed.rss", LIMIT)
    first, second = loaded.documents
    assert first.doc_id == first.url == "https://ticker.example.de/2023/10/18/lawrow-pjoengjang"
    # The feed's own day, in its own time zone (UTC would make it the 18th, 21:40).
    assert (first.date, first.publisher, first.author) == ("2023-10-18", "Nordkorea-Ticker", "Anna Beispiel")
    assert first.title == "Lawrow in Pjöngjang eingetroffen"
    assert "<p>" not in first.text and "<b>" not in first.text
    assert_verbatim(first, "Der Besuch gilt als Vorbereitung für eine Reise von Präsident Wladimir Putin.")
    assert (second.doc_id, second.date) == ("feed#ticker-4711", "2023-10-19")
    assert second.url == "https://ticker.example.de/2023/10/19/lawrow-kim"
    assert [(s.line, s.reason) for s in loaded.skipped] == [(3, "no text (looked for the field text, content or body)")]
    assert loaded.skipped[0].where.endswith("feed.rss entry 3")


def test_an_atom_feed_keeps_its_content_author_and_link():
    (document,) = load_file(ARCHIVES / "feed.atom", LIMIT).documents
    assert (document.date, document.publisher, document.author) == ("2023-10-19", "Ostasien aktuell", "Jan Muster")
    assert document.url == "https://ostasien.example.org/partnerschaft"
    assert_verbatim(
        document, "Die Beziehungen beider Länder hätten ein qualitativ neues Niveau erreicht, sagte Lawrow."
    )


def test_a_jsonl_dump_with_odd_fields_maps_them_and_reports_every_bad_line():
    loaded = load_file(ARCHIVES / "dump.jsonl", LIMIT)
    documents = {d.doc_id: d for d in loaded.documents}
    assert list(documents) == ["dump#A-1001", "dump#A-1003", "sha1-7f7987c030b3d989"]
    first = documents["dump#A-1001"]
    assert (first.title, first.date, first.publisher) == ("Lawrow besucht Nordkorea", "2023-10-18", "AFP")
    assert (first.author, first.url) == ("Maria Muster, Paul Probe", "https://news.example.com/a-1001")
    assert_verbatim(first, "Es ist die jüngste einer Reihe diplomatischer Aktivitäten zwischen den beiden Ländern.")
    html = documents["dump#A-1003"]
    assert (html.date, html.publisher) == ("2023-10-19", "dpa")  # "19. Oktober 2023"
    assert_verbatim(html, "Lawrow dankte Nordkorea für die Unterstützung Russlands im Krieg gegen die Ukraine.")
    assert documents["sha1-7f7987c030b3d989"].publisher == "Reuters"
    reasons = {s.line: s.reason for s in loaded.skipped}
    assert sorted(reasons) == [2, 3, 5, 6, 7, 9, 10]
    assert reasons[2].startswith("not valid JSON")
    assert reasons[3].startswith("no text")
    assert reasons[5] == "the date 'gestern irgendwann' cannot be read"
    assert reasons[6] == "same id 'dump#A-1001' as line 1"
    assert reasons[7] == "not valid UTF-8 (another encoding?)"
    assert reasons[9] == "a JSON list, not an object with fields"
    assert reasons[10] == "the text is 71,999 bytes, over the limit of 50,000"
    # Bad records still name their ids: an indexed record is not taken as deleted from the dump.
    assert {"dump#A-1002", "dump#A-1004"} <= loaded.present


def test_a_csv_with_a_bom_semicolons_and_a_quoted_line_break_reads_by_german_header():
    loaded = load_file(ARCHIVES / "dump.csv", LIMIT)
    first, second = loaded.documents
    assert (first.title, first.date, first.publisher) == ("Putin-Besuch in Vorbereitung", "2023-11-05", "Interfax")
    assert first.doc_id == first.url == "https://csv.example.at/putin-besuch"
    assert_verbatim(first, "Diese werden als Vorbereitung für einen Besuch von Präsident Wladimir Putin gesehen.")
    assert (second.date, second.publisher, second.author) == ("2023-11-07", "APA", "Eva Beispiel")
    # The quoted field of line 2 spans line 3, so the empty record is line 4 of the file.
    assert [(s.line, s.reason[:7]) for s in loaded.skipped] == [(4, "no text")]
    assert loaded.lines == [2, 5]


def test_a_saved_page_loses_its_furniture_and_keeps_its_metadata():
    (document,) = load_file(ARCHIVES / "page.html", LIMIT).documents
    assert document.title == "Lawrow bekräftigt Partnerschaft mit Nordkorea"
    assert (document.date, document.publisher, document.author) == (
        "2023-10-19",
        "Beispiel-Zeitung",
        "Karl Korrespondent",
    )
    assert document.url == "https://www.beispiel-zeitung.de/politik/lawrow-nordkorea-100.html"
    for furniture in ("Cookies", "Akzeptieren", "Textgröße", "Mehr zum Thema", "teilen", "Newsletter", "Impressum"):
        assert furniture not in document.text
    assert_verbatim(document, "Ein Termin wurde nicht genannt.")
    assert_verbatim(
        document,
        "Pjöngjang stehe „fest und unerschütterlich“ an der Seite Moskaus, sagte die nordkoreanische "
        "Außenministerin Choe Son Hui.",
    )


def test_a_two_page_pdf_is_one_article_with_its_lines_joined_and_its_information():
    (document,) = load_file(ARCHIVES / "release.pdf", LIMIT).documents
    assert (document.doc_id, document.title) == ("release", "Lawrow zu Gesprächen in Pjöngjang")
    assert (document.date, document.author) == ("2023-10-18", "Pressestelle")
    # The first sentence wraps over two lines of page one; the last sentence is on page two.
    assert_verbatim(
        document,
        "Der russische Außenminister Sergej Lawrow ist am Mittwoch zu einem zweitägigen Besuch in Pjöngjang "
        "eingetroffen.",
    )
    assert_verbatim(document, "Ein Termin für diese Reise wurde bislang nicht bekannt gegeben.")
    assert "Pressemitteilung\n\n" in document.text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("scan.pdf", b"%PDF-1.4\n%garbage", "not a readable PDF"),
        ("empty.rss", b"<rss version='2.0'><channel><title>x</title></channel></rss>", "the feed has no entries"),
        ("broken.xml", b"<html><body>kein Feed", "not a readable RSS or Atom feed"),
        ("nothing.jsonl", b"\n\n", "file is empty"),
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_skipped_with_its_reason(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    result = load_documents([tmp_path], LIMIT)
    assert result.documents == []
    assert [s.reason[: len(reason)] for s in result.skipped] == [reason]


def test_other_data_beside_the_articles_is_passed_over_in_a_folder_and_reported_when_named(tmp_path):
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"id": "q1", "question": "Wer reiste nach Pjöngjang?"}\n', encoding="utf-8")
    (tmp_path / "a.txt").write_text("Lawrow reiste nach Pjöngjang.\n", encoding="utf-8")
    in_folder = load_documents([tmp_path], LIMIT)
    assert ([d.doc_id for d in in_folder.documents], in_folder.skipped) == (["a"], [])
    named = load_documents([questions], LIMIT)
    assert [s.reason for s in named.skipped] == [
        "no record has a text field (text, content or body); name it with --fields text=NAME"
    ]
    mapped = load_documents([questions], LIMIT, parse_fields("text=question"))
    assert [d.text for d in mapped.documents] == ["Wer reiste nach Pjöngjang?"]


def test_fields_name_other_columns_and_bad_specs_say_why():
    assert parse_fields("text=inhalt, date=erschienen") == {"text": "inhalt", "date": "erschienen"}
    with pytest.raises(ValueError, match="'body' is not a field"):
        parse_fields("body=text")
    with pytest.raises(ValueError, match="not FIELD=NAME"):
        parse_fields("text")


@pytest.fixture(scope="module")
def archive_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    root = tmp_path_factory.mktemp("archives")
    shutil.copytree(ARCHIVES, root / "archives")
    engine = Engine(Settings.load(index_dir=root / "index", max_file_mb=LIMIT / 1e6))
    report = engine.index([root / "archives"])
    engine.first_report = report  # type: ignore[attr-defined]
    yield engine
    engine.close()


def test_every_kind_of_archive_indexes_and_reports_its_bad_records_by_line(archive_engine):
    report = archive_engine.first_report
    documents = archive_engine.documents()
    assert report.added == len(documents) == 10  # 2 + 1 + 3 + 2 from feeds and dumps, a page, a PDF
    where = sorted(s.where.rsplit("/", 1)[-1] for s in report.skipped)
    assert where == [
        "dump.csv line 4",
        *(f"dump.jsonl line {n}" for n in (10, 2, 3, 5, 6, 7, 9)),
        "feed.rss entry 3",
    ]
    hit = archive_engine.retrieve("An wessen Seite steht Pjöngjang laut Choe Son Hui?", k=3)[0]
    assert hit.sentence == documents[hit.doc_id].text[hit.start : hit.end]
    assert (hit.doc_id, hit.publisher) == ("page", "Beispiel-Zeitung")
    assert hit.url == "https://www.beispiel-zeitung.de/politik/lawrow-nordkorea-100.html"


def test_reindexing_a_dump_touches_only_the_records_that_changed(tmp_path):
    dump = tmp_path / "archiv.jsonl"
    records = [
        {"id": n, "title": f"Meldung {n}", "content": f"Meldung {n} über Lawrow in Pjöngjang.", "date": "19.10.2023"}
        for n in range(1, 5)
    ]
    dump.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    with Engine(Settings.load(index_dir=tmp_path / "index")) as engine:
        first = engine.index([dump])
        assert (first.added, first.documents) == (4, 4)
        records[1]["content"] += " Er blieb zwei Tage."
        del records[3]
        records[0]["date"] = "kein Datum"  # now a bad record: its indexed version stays
        dump.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
        again = engine.index([dump])
        assert (again.updated, again.unchanged, again.removed, again.added) == (1, 1, 1, 0)
        assert [(s.line, s.reason) for s in again.skipped] == [(1, "the date 'kein Datum' cannot be read")]
        assert again.embedded_sentences == 2
        assert sorted(engine.documents()) == ["archiv#1", "archiv#2", "archiv#3"]
