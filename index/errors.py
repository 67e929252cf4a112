"""Errors a user can cause. Each carries one sentence that says what is wrong and what to do."""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class UserError(Exception):
    """Shown to the user as one clear message, without a stack trace."""


class EmbeddingModelError(UserError):
    """The configured embedding model cannot be loaded."""


class EmbeddingServerError(EmbeddingModelError):
    """The embedding server cannot be reached, keeps failing, refuses the request, or gives vectors
    that do not fit."""


class IndexMismatchError(UserError):
    """The index was built with another embedding model."""


class IndexBusyError(UserError):
    """Another process is updating the same index."""


class StoreUnavailableError(UserError):
    """The vector store cannot be opened or reached."""


class IndexDamagedError(UserError):
    """An index file is damaged, is not an index file, or was written by another version."""


class IndexStorageError(UserError):
    """The index folder cannot be written: it is read-only, or its disk is full."""


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)
#: How SQLite and Chroma word a failed write when the error number is not at hand.
_FULL_SIGNS = ("disk is full", "no space left", "file too large", "disk i/o error")


def storage_error(error: BaseException, what: str, folder: Path) -> UserError:
    """The one sentence for a failure of ``what`` (a file or store of the index in ``folder``): a full
    disk, a folder that cannot be written, or a damaged or foreign file, each with its way out."""
    text = str(error).strip() or type(error).__name__
    lowered = text.lower()
    number = getattr(error, "errno", None)
    if number in _FULL or any(sign in lowered for sign in _FULL_SIGNS):
        return IndexStorageError(
            f"cannot write to the disk holding {folder} ({text}): it is full, or failing; the index still "
            "holds what it held before, with every batch of articles this run committed: free some space, then "
            "run 'qa index' again"
        )
    if "database is locked" in lowered:
        return IndexBusyError(f"another process is using the index in {folder} ({text}); try again when it is done")
    if number in _DENIED or any(sign in lowered for sign in ("readonly", "read-only", "permission denied")):
        return IndexStorageError(_read_only(folder, text))
    if "unable to open database file" in lowered and folder.exists() and not os.access(folder, os.W_OK):
        return IndexStorageError(_read_only(folder, text))
    return IndexDamagedError(
        f"the {what} in {folder} is damaged, or was not written by this version of qa-news ({text}); "
        "rebuild the index with 'qa index --rebuild PATH…', restore it from a backup, or use another "
        "folder with --index"
    )


def _read_only(folder: Path, text: str) -> str:
    return (
        f"cannot write to {folder} ({text}): the index folder is read-only to this user; make it "
        "writable, or choose another folder with --index or QA_INDEX_DIR"
    )


def guarded(errors: tuple[type[Exception], ...], problem: Callable[[Any, Exception], UserError]) -> Callable[[F], F]:
    """A method decorator for a store: ``errors`` it raises become ``problem(store, error)``, one
    sentence with the way out (``storage_error``, mostly). A ``UserError`` passes unchanged."""

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except UserError:
                raise
            except errors as error:
                raise problem(self, error) from error

        return checked  # type: ignore[return-value]

    return wrap
