"""Errors a user can cause. Each carries one sentence that says what is wrong and what to do."""


class UserError(Exception):
    """Shown to the user as one clear message, without a stack trace."""


class EmbeddingModelError(UserError):
    """The configured embedding model cannot be loaded."""


class IndexMismatchError(UserError):
    """The index was built with another embedding model."""


class IndexBusyError(UserError):
    """Another process is updating the same index."""


class StoreUnavailableError(UserError):
    """The vector store cannot be opened or reached."""
