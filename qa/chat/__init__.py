"""The chat page: ``build_app`` makes it over an engine, ``launch`` serves it, ``warm_up`` loads the models."""

from __future__ import annotations

import logging

from index.errors import UserError
from qa.chat.app import build_app, check_address, launch
from qa.engine import Engine

__all__ = ["build_app", "check_address", "launch", "warm_up"]

log = logging.getLogger(__name__)


def warm_up(engine: Engine) -> str | None:
    """Load the index and the models now, so the first question is not slow. Returns why the LLM
    cannot be used yet (the page still serves and says so in the chat), or None."""
    try:
        engine.warm_up()
    except UserError as error:
        log.warning("the LLM is not ready: %s", error)
        return str(error)
    return None
