"""Evaluated prompt starts kept on disk, so that a restart restores them instead of evaluating them.

Evaluating the fixed start of every prompt (system turn and few-shot examples, for each kind and
language) is most of a server's start-up on two cores. llama.cpp's state after such a start depends
only on the model file, the llama.cpp build, the processor's kernels, the context size and the
prompt's text, so the file name is a hash of all of them: a change to any of them misses the cache
and evaluates afresh. Each file carries the sha256 of its state, checked before the state is handed
to llama.cpp; a damaged or unreadable file is ignored and written anew.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Files kept; older ones (prompts since changed) are removed when a new one is written.
_KEEP = 24


class PromptStates:
    """The folder of kept states for one model file, llama.cpp build and context size."""

    def __init__(self, folder: Path, model_path: Path, n_ctx: int):
        self.folder = Path(folder)
        stat = Path(model_path).stat()
        self._identity = "|".join(
            (_llama_build(), str(Path(model_path).resolve()), str(stat.st_size), str(stat.st_mtime_ns), str(n_ctx))
        )

    def path(self, messages: Sequence[dict[str, str]]) -> Path:
        text = self._identity + "\n" + json.dumps(list(messages), ensure_ascii=False, sort_keys=True)
        return self.folder / f"{hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]}.npz"

    def load(self, messages: Sequence[dict[str, str]]) -> tuple[np.ndarray, bytes] | None:
        """The kept (tokens, state) of this prompt start, or None when there is none that is whole."""
        path = self.path(messages)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                tokens, state, digest = data["tokens"], data["state"].tobytes(), str(data["sha256"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            log.warning("ignoring the damaged prompt state %s: %s", path, error)
            return None
        if hashlib.sha256(state).hexdigest() != digest:
            log.warning("ignoring the prompt state %s: its checksum does not match", path)
            return None
        return tokens, state

    def save(self, messages: Sequence[dict[str, str]], tokens: np.ndarray, state: bytes) -> None:
        """Keep the state; a folder that cannot be written only costs the next start its time."""
        path, part = self.path(messages), None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=self.folder, suffix=".part")
            part = Path(name)
            with os.fdopen(handle, "wb") as out:
                np.savez(
                    out,
                    tokens=tokens,
                    state=np.frombuffer(state, dtype=np.uint8),
                    sha256=np.array(hashlib.sha256(state).hexdigest()),
                )
            os.replace(part, path)
            part = None
            self._prune()
        except OSError as error:
            log.warning("cannot keep the prompt state in %s: %s", self.folder, error)
        finally:
            if part is not None:
                part.unlink(missing_ok=True)

    def _prune(self) -> None:
        files = sorted(self.folder.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[_KEEP:]:
            old.unlink(missing_ok=True)


def _llama_build() -> str:
    """The llama.cpp build and the processor features its kernels use: states differ between them."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    return f"llama-cpp-python {llama_cpp.__version__}; {info}"
