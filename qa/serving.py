"""What a serving face (``qa serve``, ``qa chat``) does before it serves: refuse an address it cannot
serve on at once, and load the index and the models in the background while the app is built."""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from index.errors import UserError
from qa.engine import Engine
from qa.llm import LLMUnavailableError
from qa.settings import Settings

log = logging.getLogger(__name__)


def check_address(settings: Settings) -> None:
    """Refuse at once an address or port that cannot be served on, before anything slow happens."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in settings.chat_host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((settings.chat_host, settings.chat_port))
    except OSError as error:
        reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror or error})"
        raise UserError(
            f"port {settings.chat_port} on {settings.chat_host} {reason}; choose another with --port or QA_CHAT_PORT"
        ) from error


def warm_up_in_background(engine: Engine) -> Callable[[], tuple[dict[str, float], str | None]]:
    """Start loading the index and the models while the caller builds its app. The function returned
    waits for them and gives the seconds each took, and why the LLM cannot be used yet (the server
    still serves, and each answer says so), or None."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="qa-warm-up")
    loading = pool.submit(engine.warm_up)
    pool.shutdown(wait=False)

    def wait() -> tuple[dict[str, float], str | None]:
        try:
            return loading.result(), None
        except LLMUnavailableError as error:
            log.warning("the LLM is not ready: %s", error)
            return {}, str(error)

    return wait
