"""Errors of the LLM layer: each is one sentence a user can act on."""

from index.errors import UserError


class LLMUnavailableError(UserError):
    """The LLM backend cannot be reached, loaded or used."""
