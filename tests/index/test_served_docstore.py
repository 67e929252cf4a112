"""The document store in a real Chroma server: a commit lands whole or not at all for every reader, a
reader that follows the generations holds what a fresh one reads, and a rebuild starts a new epoch."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from index.served_docstore import ARTICLE, ServedDocumentStore
from qa.engine import Engine
from qa.settings import Settings
from tests.conftest import ChromaServer, write_articles

pytestmark = [pytest.mark.server, pytest.mark.slow]


class Killed(Exception):
    """Stands for a process that dies between writing its records and switching to them."""


def served(server: ChromaServer, collection: str, folder: Path) -> Engine:
    return Engine(
        Settings.load(index_dir=folder, chroma_host=server.host, chroma_port=server.port, chroma_collection=collection)
    )


def follows(reader: Engine, expected: set[str]) -> None:
    """The reader's snapshot comes to hold ``expected`` (it reads another process's generation in the
    background, answering from the last one meanwhile)."""
    deadline = time.monotonic() + 60
    while set(reader.store.documents) != expected:
        assert time.monotonic() < deadline, set(reader.store.documents)
        time.sleep(0.05)


def held(engine: Engine) -> dict[str, str]:
    return {item.document.doc_id: item.document.text for item in engine.store.docstore.load_all()}


def test_readers_see_whole_generations_only(tmp_path, chroma_server, monkeypatch):
    collection = f"test-{uuid.uuid4().hex[:12]}"
    corpus = write_articles(tmp_path / "corpus", ["hafen", "bahn"])
    writer = served(chroma_server, collection, tmp_path / "writer")
    reader = served(chroma_server, collection, tmp_path / "reader")
    assert writer.index([corpus]).added == 2
    assert set(reader.store.documents) == {"hafen", "bahn"}
    generation = reader.store.snapshot().generation

    # A run that dies after writing its article records, before the switch: readers see nothing of it.
    write_articles(corpus, ["wahl"])
    upsert = ServedDocumentStore._upsert

    def upsert_then_die(self, records):
        upsert(self, records)
        if any(metadata["kind"] == ARTICLE for _, metadata, _ in records):
            raise Killed

    monkeypatch.setattr(ServedDocumentStore, "_upsert", upsert_then_die)
    with pytest.raises(Killed):
        writer.index([corpus])
    monkeypatch.undo()
    store = reader.store.docstore
    left = store._collection.get(where={"gen": {"$gt": generation}}, include=[])["ids"]
    assert f"a:wahl:{generation + 1}" in left and all(i.endswith(f":wahl:{generation + 1}") for i in left)
    assert store.generation == generation and set(reader.store.documents) == {"hafen", "bahn"}
    assert not (tmp_path / "reader").exists() and not (tmp_path / "writer").exists()

    # The next run clears what the dead one left, and lands.
    again = served(chroma_server, collection, tmp_path / "writer")
    assert again.index([corpus]).added == 1
    follows(reader, {"hafen", "bahn", "wahl"})

    # An update and a removal: the reader that followed holds what a fresh reader reads.
    path = corpus / "bahn.md"
    path.write_text(path.read_text(encoding="utf-8").replace("35 Stunden", "32 Stunden"), encoding="utf-8")
    (corpus / "hafen.md").unlink()
    report = again.index([corpus])
    assert (report.updated, report.removed) == (1, 1)
    fresh = served(chroma_server, collection, tmp_path / "fresh")
    assert held(reader) == held(fresh) and set(held(fresh)) == {"bahn", "wahl"}
    assert "32 Stunden" in held(reader)["bahn"]
    assert reader.store.docstore.sentence_links() == fresh.store.docstore.sentence_links()
    versions = store._collection.get(where={"kind": ARTICLE}, include=[])["ids"]
    assert sorted(versions) == sorted(f"a:{d}:{g}" for d, g in (("bahn", generation + 2), ("wahl", generation + 1)))

    # A rebuild empties the store under a new epoch; a reader reads it afresh.
    again.index([corpus], rebuild=True)
    deadline = time.monotonic() + 60
    while reader.store.snapshot().generation != reader.store.docstore.generation:
        assert time.monotonic() < deadline, "the reader did not read the rebuilt index"
        time.sleep(0.05)
    assert reader.store.snapshot().generation > generation + 2
    assert set(reader.store.documents) == {"bahn", "wahl"} and held(reader) == held(fresh)
