"""Serving a FastAPI app with uvicorn in a thread of its own: ``qa serve`` and the tests start it alike."""

from __future__ import annotations

import logging
import threading
import time

import uvicorn
from fastapi import FastAPI

from index.errors import UserError
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
