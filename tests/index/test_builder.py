"""Incremental updates and crash safety, with the real embedder and a real Chroma store."""

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from index.errors import IndexBusyError
from index.vectors import CHUNKS, SENTENCES
from qa.engine import Engine
from qa.settings import Settings
from tests.conftest import ROOT, read_progress, write_extra_articles

NEW_SENTENCE = "Die Delegation reiste am Montag mit einem Sonderzug nach Wladiwostok weiter."


def make_engine(index_dir: Path) -> Engine:
    return Engine(Settings.load(index_dir=index_dir))


def assert_consistent(engine: Engine) -> None:
    """The vector store holds exactly what the document store refers to: no duplicates, no orphans."""
    chunks, sentences = engine.store.docstore.vector_ids()
    assert engine.store.vectors.all_ids(CHUNKS) == chunks
    assert engine.store.vectors.all_ids(SENTENCES) == sentences
    assert engine.store.vectors.count(CHUNKS) == len(chunks)


def doc_ids_in_vectors(engine: Engine) -> set[str]:
    return {chunk_id.split(":")[0] for chunk_id in engine.store.vectors.all_ids(CHUNKS)}


@pytest.mark.slow  # indexes the seeds, then again after changes
def test_rerun_embeds_nothing_changed_file_only_itself_deleted_file_goes(tmp_path, corpus, backend):
    engine = make_engine(tmp_path / "index")
    first = engine.index([corpus])
    assert (first.added, first.documents, first.sentences) == (5, 5, 109)
    assert first.embedded_chunks == first.chunks > 0
    assert_consistent(engine)

    again = engine.index([corpus])
    assert (again.unchanged, again.embedded_chunks, again.embedded_sentences) == (5, 0, 0)
    assert (again.chunks, again.sentences) == (first.chunks, first.sentences)
    assert_consistent(engine)

    changed = corpus / "004_6896b54b9ced829e.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n" + NEW_SENTENCE + "\n", encoding="utf-8")
    update = engine.index([corpus])
    assert (update.updated, update.unchanged, update.added) == (1, 4, 0)
    own_chunks = [c for c in engine.store.snapshot().chunks if c.doc_id == "004_6896b54b9ced829e"]
    assert update.embedded_chunks == len(own_chunks)
    assert update.sentences == first.sentences + 1
    assert_consistent(engine)
    assert engine.retrieve("Wohin reiste die Delegation mit dem Sonderzug?", k=1)[0].sentence == NEW_SENTENCE

    (corpus / "003_fc0805797345d969.txt").unlink()
    removal = engine.index([corpus])
    assert (removal.removed, removal.documents, removal.embedded_chunks) == (1, 4, 0)
    assert "003_fc0805797345d969" not in doc_ids_in_vectors(engine)
    assert all(h.doc_id != "003_fc0805797345d969" for h in engine.retrieve("Was sagte ein Sprecher in Seoul?"))
    assert_consistent(engine)
    engine.close()


def test_files_outside_the_indexed_folder_are_kept(tmp_path, corpus):
    engine = make_engine(tmp_path / "index")
    engine.index([corpus / "000_c0f6a50aa29bb6c2.txt"])
    other = tmp_path / "other"
    other.mkdir()
    (other / "extra.txt").write_text("Ein kurzer Artikel.\n\nEr hat zwei Absätze.", encoding="utf-8")
    report = engine.index([other])
    assert (report.added, report.removed, report.documents) == (1, 0, 2)
    engine.close()


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_indexed(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("Lawrow reiste nach Pjöngjang.\n\nDort traf er Kim.", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    engine = make_engine(tmp_path / "index")
    report = engine.index([folder, tmp_path / "missing"])
    assert report.documents == 1
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "image.txt", "missing"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["image.txt"]
    engine.close()


def test_a_second_indexer_on_the_same_folder_is_refused(tmp_path, corpus):
    engine = make_engine(tmp_path / "index")
    with open(tmp_path / "index" / "index.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(IndexBusyError):
            engine.index([corpus])
    assert engine.is_empty()
    engine.close()


@pytest.mark.slow  # indexes 35 articles, twice, one run in a qa process
def test_kill_9_mid_run_keeps_the_previous_index_and_the_next_run_completes(tmp_path, corpus, backend):
    index_dir = tmp_path / "index"
    engine = make_engine(index_dir)
    before = engine.index([corpus])
    question = "Bis wann soll Lawrow in Nordkorea bleiben?"
    expected = engine.retrieve(question, k=3)
    engine.close()

    write_extra_articles(corpus, 30)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "index", str(corpus), "--index", str(index_dir)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    progress: list[int] = []
    reader = threading.Thread(target=read_progress, args=(process.stderr, progress), daemon=True)
    reader.start()
    deadline = time.monotonic() + 240
    while not (progress and progress[-1] >= 96) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the indexing run ended before it could be interrupted"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    engine = make_engine(index_dir)
    assert len(engine.store.versions()) == before.documents
    assert engine.store.vectors.count(CHUNKS) > before.chunks  # the killed run had written vectors
    assert engine.retrieve(question, k=3) == expected

    resumed = engine.index([corpus])
    assert resumed.added == 30 and resumed.documents == 35
    assert resumed.resumed_vectors >= 96
    assert engine.store.docstore.get_meta("pending") is None
    assert_consistent(engine)
    assert engine.retrieve(question, k=1)[0].doc_id in {"001_1d0c2a484e463a8b"} | {f"extra_{n:03d}" for n in range(30)}
    engine.close()


@pytest.mark.slow  # indexes the seeds in small batches
def test_vectors_are_written_in_groups_of_embedding_batches(tmp_path, corpus, monkeypatch):
    from index import builder as builder_module

    monkeypatch.setattr(builder_module, "_WRITE_EVERY_S", 3600.0)  # only the count decides here
    engine = make_engine(tmp_path / "index")
    writes: list[tuple[str, int]] = []
    vectors = engine.store.vectors
    upsert = vectors.upsert
    monkeypatch.setattr(
        vectors, "upsert", lambda kind, ids, *rest: writes.append((kind, len(ids))) or upsert(kind, ids, *rest)
    )
    build = engine.store._builder()
    build.batch_size, build.write_batch = 8, 32
    report = build.update([corpus])
    sentence_writes = [n for kind, n in writes if kind == SENTENCES]
    assert sentence_writes == [32, 32, 32, 13] and report.embedded_sentences == 109
    assert sum(n for kind, n in writes if kind == CHUNKS) == report.chunks
    assert_consistent(engine)
    engine.close()
