"""Where the files read at run time are: the prompts (``prompts/``) and the seed articles with their
question set (``seeds/``). Both stay at the top of the repository; a wheel carries them inside the
package, as ``qa/_data/prompts`` and ``qa/_data/seeds`` (pyproject.toml maps them there), and
importlib.resources finds them in either place."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_folder(name: str) -> Path:
    """The folder ``name`` (``prompts`` or ``seeds``): the installed package's copy when it has one (a
    wheel), else the one at the top of the source checkout (a checkout, or an editable install)."""
    package = files("qa")
    if not isinstance(package, Path):
        raise RuntimeError(f"qa must be installed as files, not from {package}")
    packaged = package / "_data" / name
    return packaged if packaged.is_dir() else package.parent / name
