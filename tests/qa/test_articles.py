"""Uploading and removing articles, with the real embedder and a real Chroma store over two seeds."""

import fcntl
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index.errors import IndexBusyError
from index.loading import Skipped
from index.vectors import CHUNKS, SENTENCES
from qa.articles import ArticleError, ArticleLibrary, UploadResult, safe_name
from qa.engine import Engine, QuestionError
from qa.settings import Settings
from tests.conftest import SEEDS

SEED_FILES = ("000_c0f6a50aa29bb6c2.txt", "004_6896b54b9ced829e.txt")
SEED_ID = "000_c0f6a50aa29bb6c2"

FESTIVAL = """Rekordbesuch beim Zwiebelfest in Wolkenbrunn

Das Zwiebelfest in Wolkenbrunn hat am Wochenende 18.342 Besucher angelockt, so viele wie nie zuvor.

Bürgermeisterin Hiltrud Quenzel eröffnete das Fest mit dem Anschnitt eines 3,2 Meter langen Zwiebelkuchens.

Die Freiwillige Feuerwehr verkaufte nach eigenen Angaben 2.150 Portionen Federweißen.
"""
FESTIVAL_TITLE = "Rekordbesuch beim Zwiebelfest in Wolkenbrunn"
FESTIVAL_SENTENCE = (
    "Das Zwiebelfest in Wolkenbrunn hat am Wochenende 18.342 Besucher angelockt, so viele wie nie zuvor."
)
FESTIVAL_QUESTION = "Wie viele Besucher kamen zum Zwiebelfest in Wolkenbrunn?"
FESTIVAL_CHANGED = FESTIVAL.replace(
    FESTIVAL_SENTENCE, "Das Zwiebelfest in Wolkenbrunn musste am Wochenende wegen eines Hagelsturms abgesagt werden."
)


def make_engine(root: Path, **settings) -> Engine:
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name in SEED_FILES:
        shutil.copy(SEEDS / name, corpus / name)
    engine = Engine(Settings.load(index_dir=root / "index", **settings))
    engine.index([corpus])
    return engine


# Builds an index of its own with the real embedder (seconds on 2 cores): the tests that use it or
# `library` are marked slow, and `make check` leaves them out.
@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArticleLibrary]:
    """A library that tests must leave as they found it."""
    engine = make_engine(tmp_path_factory.mktemp("articles"))
    yield ArticleLibrary(engine)
    engine.close()


@pytest.fixture
def library(tmp_path: Path) -> Iterator[ArticleLibrary]:
    """A library of its own, for a test that changes the index."""
    engine = make_engine(tmp_path)
    yield ArticleLibrary(engine)
    engine.close()


def upload(tmp_path: Path, name: str, content: str | bytes) -> tuple[str, Path]:
    """A file as the web framework hands it over: the client's name, and a temporary file."""
    folder = tmp_path / "incoming"
    folder.mkdir(exist_ok=True)
    path = folder / f"upload{len(list(folder.iterdir()))}"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return name, path


def state(library: ArticleLibrary) -> tuple:
    engine = library.engine
    return engine.store.versions(), engine.store.docstore.generation, engine.store.vectors.count(CHUNKS)


def uploaded_files(library: ArticleLibrary) -> list[str]:
    folder = library.uploads_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_consistent(engine: Engine) -> None:
    chunks, sentences = engine.store.docstore.vector_ids()
    assert engine.store.vectors.all_ids(CHUNKS) == chunks
    assert engine.store.vectors.all_ids(SENTENCES) == sentences
    assert engine.store.docstore.get_meta("pending") is None


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\x\\Bericht über Wahl.md", "Bericht_über_Wahl.md"),
        ("..", "article"),
        (".hidden.txt", "hidden.txt"),
        ("a" * 300 + ".txt", "a" * 80 + ".txt"),
        ("Nachricht<script>.html", "Nachricht_script_.html"),
        ("name with\x00nul.txt", "name_withnul.txt"),
        ("REPORT.TXT", "REPORT.txt"),
        ("Be\u0301richt.md", "B\u00e9richt.md"),
        ("", "article"),
        ("..\\..\\.txt", "txt"),
    ],
)
def test_safe_name(client, expected):
    assert safe_name(client) == expected
    assert "/" not in safe_name(client) and "\\" not in safe_name(client)


@pytest.mark.slow
def test_an_uploaded_article_is_listed_and_retrievable(library, tmp_path):
    engine = library.engine
    calls = []
    result = library.add(
        [upload(tmp_path, "Zwiebelfest Wolkenbrunn.txt", FESTIVAL)], progress=lambda f, d: calls.append((f, d))
    )
    assert result == UploadResult(added=[FESTIVAL_TITLE])
    assert result.message() == f"Added “{FESTIVAL_TITLE}”."
    assert calls[0][0] == 0.0 and calls[-1][0] == 1.0

    hit = engine.retrieve(FESTIVAL_QUESTION)[0]
    assert (hit.doc_id, hit.sentence) == ("Zwiebelfest_Wolkenbrunn", FESTIVAL_SENTENCE)

    infos = {info.doc_id: info for info in library.articles()}
    assert set(infos) == {"Zwiebelfest_Wolkenbrunn", *(Path(name).stem for name in SEED_FILES)}
    festival = infos["Zwiebelfest_Wolkenbrunn"]
    assert (festival.title, festival.file_name, festival.uploaded) == (
        FESTIVAL_TITLE,
        "Zwiebelfest_Wolkenbrunn.txt",
        True,
    )
    assert festival.sentences == 4
    assert not infos[SEED_ID].uploaded and infos[SEED_ID].file_name == SEED_FILES[0]
    titles = [info.title.casefold() for info in library.articles()]
    assert titles == sorted(titles)
    assert uploaded_files(library) == ["Zwiebelfest_Wolkenbrunn.txt"]
    assert_consistent(engine)


@pytest.mark.slow
def test_a_traversal_name_lands_in_the_uploads_folder_only(library, tmp_path):
    result = library.add([upload(tmp_path, "../../../evil.txt", FESTIVAL)])
    assert result.added == [FESTIVAL_TITLE]
    stored = library.uploads_dir / "evil.txt"
    assert stored.read_text(encoding="utf-8") == FESTIVAL
    assert [p for p in tmp_path.rglob("evil*")] == [stored]
    assert library.engine.store.versions()["evil"].source == str(stored)


ALLOWED = (
    "only articles (.txt, .md, .html, .pdf), dumps (.jsonl, .csv, .tsv) and feeds (.rss, .atom, .xml) can be added"
)
REFUSED = [
    ("notes.docx", b"PK\x03\x04 Das ist ein Artikel.", ALLOWED),
    ("notes.pdf", b"%PDF-1.4 Das ist ein Artikel.", "not a readable PDF"),
    ("alt.jsonl", b'{"id": 1, "text": "Alt.", "date": "kaputt"}\n{"id": 2}\n', "no record could be used (line 1: the"),
    ("leer.txt", b"", "file is empty"),
    ("leer.txt", b"\n  \n", "file is empty"),
    ("menue.html", b"<html><body><nav>Start | Politik</nav><script>x()</script></body></html>", "no article text"),
    ("bild.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "content", "reason"), REFUSED)
def test_a_bad_file_is_refused_with_its_reason_and_nothing_changes(shared, tmp_path, name, content, reason):
    before = state(shared)
    result = shared.add([upload(tmp_path, name, content)])
    assert result.added == result.updated == result.unchanged == []
    assert len(result.refused) == 1 and result.refused[0][0] == name and reason in result.refused[0][1]
    assert result.message().startswith(f"Refused {name}: ")
    assert state(shared) == before
    assert uploaded_files(shared) == []


@pytest.mark.slow
def test_a_file_over_the_size_limit_is_refused(shared, tmp_path):
    with Engine(Settings.load(index_dir=shared.engine.index_dir, max_file_mb=0.001)) as small:
        library = ArticleLibrary(small)
        before = state(library)
        content = FESTIVAL * 4
        assert len(content.encode("utf-8")) == 1380
        result = library.add([upload(tmp_path, "lang.txt", content)])
        reason = "the file is 0.00138 MB, over the limit of 0.001 MB per file"
        assert result.refused == [("lang.txt", reason)]
        assert result.message() == f"Refused lang.txt: {reason}."
        assert state(library) == before
        assert uploaded_files(library) == []


@pytest.mark.slow
def test_too_many_files_are_refused_before_any_is_looked_at(shared, tmp_path):
    with Engine(Settings.load(index_dir=shared.engine.index_dir, max_upload_files=2)) as engine:
        library = ArticleLibrary(engine)
        before = state(library)
        files = [upload(tmp_path, f"artikel{n}.txt", FESTIVAL) for n in range(3)]
        with pytest.raises(ArticleError, match="3 files are too many for one upload; add at most 2 at once"):
            library.add(files)
        assert state(library) == before
        assert uploaded_files(library) == []


@pytest.mark.slow
def test_a_mixed_upload_adds_the_good_file_and_refuses_the_bad_one(library, tmp_path):
    files = [upload(tmp_path, "notes.docx", b"PK\x03\x04"), upload(tmp_path, "fest.md", "# " + FESTIVAL)]
    result = library.add(files)
    assert result.added == [FESTIVAL_TITLE]
    assert result.refused == [("notes.docx", ALLOWED)]
    assert result.message() == f"Added “{FESTIVAL_TITLE}”.\nRefused notes.docx: {ALLOWED}."
    assert uploaded_files(library) == ["fest.md"]
    assert library.engine.retrieve(FESTIVAL_QUESTION)[0].doc_id == "fest"


@pytest.mark.slow
def test_an_uploaded_dump_adds_its_good_records_and_names_the_bad_lines(library, tmp_path):
    records = [
        {"id": "1", "title": "Festival", "body": FESTIVAL, "published": "5.11.2015", "outlet": "dpa"},
        {"id": "2", "title": "Ohne Text"},
    ]
    content = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n{kaputt\n"
    result = library.add([upload(tmp_path, "archiv.jsonl", content)])
    assert result.added == ["Festival"]
    assert [name for name, _ in result.refused] == ["archiv.jsonl line 2", "archiv.jsonl line 3"]
    assert uploaded_files(library) == ["archiv.jsonl"]
    document = library.engine.documents()["archiv#1"]
    assert (document.date, document.publisher) == ("2015-11-05", "dpa")
    assert library.engine.retrieve(FESTIVAL_QUESTION)[0].doc_id == "archiv#1"
    again = library.add([upload(tmp_path, "archiv.jsonl", content)])
    assert (again.added, again.unchanged) == ([], ["Festival"])


@pytest.mark.slow
def test_a_name_taken_by_a_seed_gets_a_number_and_both_stay(library, tmp_path):
    result = library.add([upload(tmp_path, f"{SEED_ID}.txt", FESTIVAL)])
    assert result.added == [FESTIVAL_TITLE]
    assert uploaded_files(library) == [f"{SEED_ID}-2.txt"]
    versions = library.engine.store.versions()
    assert {SEED_ID, f"{SEED_ID}-2"} <= set(versions)
    assert Path(versions[SEED_ID].source).parent.name == "corpus"
    assert library.engine.retrieve(FESTIVAL_QUESTION)[0].doc_id == f"{SEED_ID}-2"

    again = library.add([upload(tmp_path, f"{SEED_ID}.txt", FESTIVAL)])
    assert again.unchanged == [FESTIVAL_TITLE]
    assert uploaded_files(library) == [f"{SEED_ID}-2.txt"]
    assert_consistent(library.engine)


@pytest.mark.slow
def test_the_same_name_again_is_unchanged_or_updated(library, tmp_path):
    engine = library.engine
    library.add([upload(tmp_path, "fest.txt", FESTIVAL)])
    generation = engine.store.docstore.generation

    same = library.add([upload(tmp_path, "fest.txt", FESTIVAL)])
    assert same == UploadResult(unchanged=[FESTIVAL_TITLE])
    assert same.message() == f"“{FESTIVAL_TITLE}” was already there, unchanged."
    assert engine.store.docstore.generation == generation

    changed = library.add([upload(tmp_path, "fest.txt", FESTIVAL_CHANGED)])
    assert changed == UploadResult(updated=[FESTIVAL_TITLE])
    assert changed.message() == f"Updated “{FESTIVAL_TITLE}”."
    assert uploaded_files(library) == ["fest.txt"]
    assert all("18.342" not in hit.sentence for hit in engine.retrieve(FESTIVAL_QUESTION))
    assert "Hagelsturms" in engine.retrieve(FESTIVAL_QUESTION)[0].sentence
    assert_consistent(engine)


@pytest.mark.slow
def test_removing_an_upload_deletes_its_file_and_vectors(library, tmp_path):
    engine = library.engine
    library.add([upload(tmp_path, "fest.txt", FESTIVAL)])
    chunks, sentences = engine.store.docstore.vector_ids(["fest"])
    assert chunks and sentences

    message = library.remove("fest")
    assert message == f"Removed “{FESTIVAL_TITLE}” and deleted its uploaded file."
    assert "fest" not in {info.doc_id for info in library.articles()}
    assert uploaded_files(library) == []
    assert not chunks & engine.store.vectors.all_ids(CHUNKS)
    assert not sentences & engine.store.vectors.all_ids(SENTENCES)
    assert all(hit.doc_id != "fest" for hit in engine.retrieve(FESTIVAL_QUESTION))
    assert len(engine.store.versions()) == len(SEED_FILES)
    assert_consistent(engine)


@pytest.mark.slow
def test_removing_a_seed_keeps_its_file_and_says_it_comes_back(library):
    source = Path(library.engine.store.versions()[SEED_ID].source)
    content = source.read_bytes()
    message = library.remove(SEED_ID)
    assert "comes back the next time its folder is indexed" in message
    assert SEED_FILES[0] in message and str(source.parent) not in message
    assert SEED_ID not in library.engine.store.versions()
    assert source.read_bytes() == content
    assert_consistent(library.engine)

    report = library.engine.index([source.parent])
    assert (report.added, report.documents) == (1, len(SEED_FILES))


@pytest.mark.slow
def test_removing_an_unknown_article_is_refused(shared):
    before = state(shared)
    with pytest.raises(ArticleError, match="no article 'nope' in the index"):
        shared.remove("nope")
    assert state(shared) == before


@pytest.mark.slow
def test_builder_remove_ignores_unknown_ids_and_leaves_no_mark(shared):
    before = state(shared)
    report = shared.engine.remove(["nope"])
    assert (report.removed, report.documents) == (0, len(SEED_FILES))
    assert state(shared) == before
    assert shared.engine.store.docstore.get_meta("pending") is None


@pytest.mark.slow
def test_a_file_the_index_refuses_leaves_the_folder_as_it_was(library, tmp_path, monkeypatch):
    library.add([upload(tmp_path, "fest.txt", FESTIVAL)])
    before = state(library)
    real_index = library.engine.index

    def refusing(paths, **kwargs):
        report = real_index([])
        reason = f"same document id '{paths[0].stem}' as {tmp_path / 'x' / 'fest.txt'} in the index; rename one"
        report.skipped.append(Skipped(str(paths[0]), reason))
        return report

    monkeypatch.setattr(library.engine, "index", refusing)
    result = library.add([upload(tmp_path, "fest.txt", FESTIVAL_CHANGED), upload(tmp_path, "neu.txt", FESTIVAL)])
    assert [name for name, _ in result.refused] == ["fest.txt", "neu.txt"]
    assert result.refused[0][1] == "same document id 'fest' as fest.txt in the index; rename one"
    assert uploaded_files(library) == ["fest.txt"]
    assert (library.uploads_dir / "fest.txt").read_text(encoding="utf-8") == FESTIVAL
    assert state(library) == before


@pytest.mark.slow
def test_an_index_error_passes_on_and_the_folder_is_put_back(library, tmp_path):
    library.add([upload(tmp_path, "fest.txt", FESTIVAL)])
    before = state(library)
    lock = library.engine.index_dir / "index.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(IndexBusyError):
            library.add([upload(tmp_path, "fest.txt", FESTIVAL_CHANGED)])
        with pytest.raises(IndexBusyError):
            library.add([upload(tmp_path, "neu.txt", FESTIVAL)])
        with pytest.raises(IndexBusyError):
            library.remove("fest")
    assert uploaded_files(library) == ["fest.txt"]
    assert (library.uploads_dir / "fest.txt").read_text(encoding="utf-8") == FESTIVAL
    assert state(library) == before


@pytest.mark.slow
@pytest.mark.parametrize("sentences", [0, 21, -1, 2.5, True])
def test_the_number_of_sentences_is_checked_before_the_model_loads(shared, sentences):
    engine = shared.engine
    with pytest.raises(QuestionError, match="1 to 20 sentences"):
        engine.ask("Mit wem sprach Lawrow am Telefon?", sentences=sentences)
    with pytest.raises(QuestionError, match="1 to 20 sentences"):
        next(engine.stream("Mit wem sprach Lawrow am Telefon?", sentences=sentences))
    assert engine._llm is None


class Recorder:
    """A chat model that notes how many sentences it was offered and cites the first."""

    description = "recorder"

    def __init__(self):
        self.offered: list[int] = []

    def stream(self, messages, schema, max_tokens):
        self.offered.append(len(schema["properties"]["sources"]["items"]["enum"]))
        yield json.dumps({"sources": [1], "quote": "Amir-Abdollahian", "answer": "Mit Amir-Abdollahian."})

    def warm_up(self, prompts=()):
        pass


@pytest.mark.slow
def test_the_number_of_sentences_reaches_the_prompt(shared):
    recorder = Recorder()
    question = "Mit wem sprach Lawrow am Telefon?"
    with Engine(shared.engine.settings, chat_model=recorder) as engine:
        engine.ask(question)
        engine.ask(question, sentences=1)
        engine.ask(question, sentences=7)
    # the sentence after the best one comes on top where it is not among the hits already
    assert recorder.offered[0] in (3, 4) and recorder.offered[1] in (1, 2) and recorder.offered[2] in (7, 8)
    assert engine.settings.prompt_sentences == 3


@pytest.mark.slow
def test_a_removal_after_an_interrupted_run_also_clears_its_leftover_vectors(library):
    engine = library.engine
    vector = np.ones((1, 384), dtype=np.float32) / np.sqrt(384)
    engine.store.vectors.upsert(CHUNKS, ["ghost:c:0-0:0"], vector, [{"doc_id": "ghost"}], ["Ein Überbleibsel."])
    engine.store.vectors.upsert(SENTENCES, ["ghost:s:0-0:0"], vector, [{"doc_id": "ghost"}])
    engine.store.docstore.set_meta("pending", "1")

    report = engine.remove([SEED_ID])
    assert (report.removed, report.documents) == (1, len(SEED_FILES) - 1)
    assert "ghost:c:0-0:0" not in engine.store.vectors.all_ids(CHUNKS)
    assert_consistent(engine)
