"""Run at start-up by a qa process that a test without the ``llm`` marker starts (tests/conftest.py
puts this folder on OFFLINE's PYTHONPATH for such a test): llama.cpp may not load a real model in it.

Where it would, the process writes the test's id and a message to the report file that the test's
teardown reads, says so on stderr and ends at once, so the test fails however it checks the process.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

#: As tests/conftest.py's REAL_MODEL_BYTES: a smaller GGUF only exercises an error path of llama.cpp.
REAL_MODEL_BYTES = 16 * 1024 * 1024


def _stop(model_path: object) -> None:
    test = os.environ.get("TESTS_LLM_GUARD_TEST", "a test")
    message = (
        f"{test} starts a process that loads the real LLM ({os.path.basename(str(model_path))}) but is not "
        "marked llm; add @pytest.mark.llm (or pytestmark) so that `make check` leaves it out"
    )
    report = os.environ.get("TESTS_LLM_GUARD_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(f"{test}\t{message}\n")
    print(f"tests/llm_guard: {message}", file=sys.stderr, flush=True)
    os._exit(86)


def _guard(module) -> None:
    original = module.Llama.__init__

    def guarded_init(self, model_path, *args, **kwargs):
        try:
            real = os.path.getsize(model_path) >= REAL_MODEL_BYTES
        except (OSError, TypeError):
            real = False
        if real:
            _stop(model_path)
        original(self, model_path, *args, **kwargs)

    module.Llama.__init__ = guarded_init


class _Loader(importlib.abc.Loader):
    """llama_cpp's own loader, then the guard on ``llama_cpp.Llama``."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _guard(module)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "llama_cpp":
            return None
        sys.meta_path.remove(self)  # once: the real finders find the package
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


if os.environ.get("TESTS_LLM_GUARD_TEST"):
    sys.meta_path.insert(0, _Finder())
