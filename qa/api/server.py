"""Serving a FastAPI app with uvicorn in a thread of its own: ``qa serve`` and the tests start it alike."""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import uvicorn
from fastapi import FastAPI

from index.errors import UserError
from qa.engine import Engine
from qa.llm import LLMUnavailableError
from qa.settings import Settings

log = logging.getLogger(__name__)


class ApiServer:
    """The app on ``settings.chat_host:chat_port``; ``start`` returns once it accepts connections."""

    def __init__(self, app: FastAPI, settings: Settings):
        self.host, self.port = settings.chat_host, settings.chat_port
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="qa-api-server", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise UserError(f"cannot serve on {self.host}:{self.port}; see the log above")
            time.sleep(0.05)
        return self.url

    def wait(self) -> None:
        """Serve until Ctrl-C."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


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
