"""A dump read and committed in batches, in bounded memory; a field mapping that does not fit a file is
reported, with its records counted as skipped, and a run that indexed nothing from such a file fails."""

import json
from pathlib import Path

import pytest

from index import builder as builder_module
from index.builder import IndexBuilder
from index.loading import load_documents
from index.records import parse_fields
from index.sentences import split_sentences
from index.store import Index, IndexConfig
from index.vectors import CHUNKS, SENTENCES
from qa.settings import Settings
from tests.conftest import qa

LIMIT = 50_000
CITIES = ("Berlin", "Hamburg", "München", "Köln", "Leipzig", "Dresden", "Bremen", "Kiel", "Mainz", "Erfurt")
#: A sentence two articles print verbatim, one in the first batch and one in the last.
SHARED = "Der Sprecher des Ministeriums bestätigte am Abend die geplante Reise nach Pjöngjang."


def article(number: int) -> dict:
    city = CITIES[number % len(CITIES)]
    text = (
        f"In {city} tagte am {number + 1}. Oktober der Stadtrat zum Thema Nummer {number}. "
        f"Die Sitzung in {city} dauerte {number + 2} Stunden. "
        f"Am Ende stimmten {number + 10} Abgeordnete für den Antrag."
    )
    if number in (0, 9):
        text += " " + SHARED
    return {"id": number, "title": f"Meldung {number} aus {city}", "text": text, "date": "2023-10-19"}


def write_dump(path: Path, records: list[dict]) -> None:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")


def open_index(index_dir: Path) -> Index:
    return Index(IndexConfig.of(Settings.load(index_dir=index_dir)))


def make_builder(index: Index, dump_batch: int = 4) -> IndexBuilder:
    config = index.config
    return IndexBuilder(
        index.docstore,
        index.vectors,
        index.embedder,
        embedder_name=config.embed_model,
        chunk_tokens=config.chunk_tokens,
        max_file_bytes=config.max_file_bytes,
        batch_size=2,
        write_batch=2,
        dump_batch=dump_batch,
    )


def count_commits(index: Index, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of articles of each commit the document store receives."""
    commits: list[int] = []
    commit = index.docstore.commit
    monkeypatch.setattr(
        index.docstore, "commit", lambda upserts, *rest: commits.append(len(upserts)) or commit(upserts, *rest)
    )
    return commits


def assert_consistent(index: Index) -> None:
    chunks, sentences = index.docstore.vector_ids()
    assert index.vectors.all_ids(CHUNKS) == chunks
    assert index.vectors.all_ids(SENTENCES) == sentences


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    folder = tmp_path / "archiv"
    folder.mkdir()
    path = folder / "dump.jsonl"
    write_dump(path, [article(n) for n in range(10)])
    return path


@pytest.mark.slow  # embeds 10 articles with the real embedder, in three batches
def test_a_dump_larger_than_a_batch_is_committed_batch_by_batch_and_a_rerun_embeds_nothing(tmp_path, dump, monkeypatch):
    with open_index(tmp_path / "index") as index:
        commits = count_commits(index, monkeypatch)
        report = make_builder(index).update([dump.parent])
        assert (report.added, report.documents, report.removed) == (10, 10, 0)
        assert commits == [4, 4, 2]
        assert index.docstore.generation == 3
        assert index.docstore.get_meta("pending") is None
        assert report.embedded_sentences == report.sentences > 30
        assert_consistent(index)
        # The copy in the last batch is linked to the one the first batch committed.
        links = {(link.doc_id, link.other_doc) for link in index.docstore.sentence_links()}
        assert links & {("dump#0", "dump#9"), ("dump#9", "dump#0")}
        assert report.grouped_sentences == 2

        again = make_builder(index).update([dump.parent])
        assert (again.unchanged, again.embedded_sentences, again.embedded_chunks) == (10, 0, 0)
        assert index.docstore.generation == 3

        records = [article(n) for n in range(10) if n != 6]
        records[1]["text"] += " Die Opposition kündigte eine Klage an."
        write_dump(dump, records)
        update = make_builder(index).update([dump.parent])
        assert (update.updated, update.unchanged, update.removed, update.documents) == (1, 8, 1, 9)
        assert update.embedded_sentences == len(split_sentences(records[1]["text"]))
        assert "dump#6" not in index.docstore.versions()
        assert_consistent(index)

        moved = dump.parent / "2023" / dump.name
        moved.parent.mkdir()
        dump.rename(moved)
        after_move = make_builder(index).update([dump.parent])
        assert (after_move.unchanged, after_move.removed, after_move.embedded_sentences) == (9, 0, 0)
        assert {version.source for version in index.docstore.versions().values()} == {str(moved)}


@pytest.mark.slow  # embeds 10 articles with the real embedder, twice in part
def test_a_run_stopped_between_batches_keeps_what_it_committed_and_the_next_run_completes(tmp_path, dump, monkeypatch):
    with open_index(tmp_path / "index") as index:
        commits = count_commits(index, monkeypatch)
        embed = builder_module.embed_passages
        calls: list[int] = []

        def failing(embedder, texts):
            if len(commits) == 2:  # in the third batch, once an article's vectors are written
                calls.append(len(texts))
                if len(calls) == 3:
                    raise KeyboardInterrupt
            return embed(embedder, texts)

        monkeypatch.setattr(builder_module, "embed_passages", failing)
        with pytest.raises(KeyboardInterrupt):
            make_builder(index).update([dump.parent])
        assert sorted(index.docstore.versions()) == [f"dump#{n}" for n in range(8)]
        assert index.docstore.generation == 2
        assert index.docstore.get_meta("pending") == "1"

        monkeypatch.setattr(builder_module, "embed_passages", embed)
        resumed = make_builder(index).update([dump.parent])
        assert (resumed.added, resumed.unchanged, resumed.documents) == (2, 8, 10)
        assert resumed.resumed_vectors >= 2
        assert index.docstore.get_meta("pending") is None
        assert_consistent(index)


# --- field mappings that do not fit a file ----------------------------------------------------------


def test_a_mapped_key_no_record_has_skips_the_dump_with_one_line_naming_its_keys(tmp_path):
    dump = tmp_path / "feed.jsonl"
    write_dump(
        dump,
        [
            {"id": 1, "text": "Lawrow reiste nach Pjöngjang.", "published": "2023-10-19"},
            {"id": 2, "text": "Kim empfing ihn am Flughafen.", "author": "dpa"},
        ],
    )
    result = load_documents([tmp_path], LIMIT, parse_fields("date=pubDate"))
    assert result.documents == []
    [skip] = result.skipped
    assert skip.line is None and skip.path == str(dump.resolve())
    assert skip.reason == (
        "no field 'pubDate' (--fields date=pubDate); its keys are id, text, published, author; "
        "all 2 of its records skipped"
    )
    counts = result.records[str(dump.resolve())]
    assert (counts.total, counts.skipped) == (2, 2)
    assert result.archives == set()  # so its indexed records stay


def test_a_mapping_one_record_fits_reads_the_dump_and_other_data_is_still_passed_over(tmp_path):
    dump = tmp_path / "dump.jsonl"
    write_dump(
        dump,
        [
            {"id": 1, "body": "Lawrow reiste nach Pjöngjang.", "pubDate": "19.10.2023"},
            {"id": 2, "body": "Kim empfing ihn am Flughafen."},
            {"id": 3, "title": "ohne Text"},
        ],
    )
    write_dump(tmp_path / "questions.jsonl", [{"id": "q1", "question": "Wer reiste nach Pjöngjang?"}])
    result = load_documents([tmp_path], LIMIT, parse_fields("text=body,date=pubDate"))
    assert [d.doc_id for d in result.documents] == ["dump#1", "dump#2"]
    assert [(s.line, s.reason) for s in result.skipped] == [(3, "no text (looked for the field body)")]
    assert {Path(p).name: (c.total, c.skipped) for p, c in result.records.items()} == {"dump.jsonl": (3, 1)}


@pytest.mark.slow  # three qa index processes with the real embedder
def test_qa_index_reports_a_mapping_that_fits_no_file_and_fails_without_losing_anything(tmp_path):
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "a.csv").write_text(
        "id,title,text\n1,Eins,Lawrow reiste nach Pjöngjang.\n2,Zwei,Kim empfing ihn am Flughafen.\n",
        encoding="utf-8",
    )
    index_dir = str(tmp_path / "index")
    first = qa("index", str(folder), "--index", index_dir, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["documents"] == 2

    write_dump(folder / "b.jsonl", [{"id": 1, "body": "Die Delegation reiste am Montag weiter."}])
    mapped = qa("index", str(folder), "--index", index_dir, "--fields", "text=body")
    assert mapped.returncode == 1
    a_csv = str((folder / "a.csv").resolve())
    assert f"{a_csv}: no field 'body' (--fields text=body); its columns are id, title, text" in mapped.stdout
    assert f"{a_csv}: 2 of 2 skipped (nothing indexed)" in mapped.stdout
    assert "3 documents" in mapped.stdout and "1 added" in mapped.stdout
    assert f"nothing was indexed from 1 file(s) that hold records: {a_csv}" in mapped.stderr

    as_json = qa("index", str(folder), "--index", index_dir, "--fields", "text=body", "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["documents"] == 3 and report["unindexed_files"] == [a_csv]
    assert report["records"][a_csv] == {"total": 2, "skipped": 2}
