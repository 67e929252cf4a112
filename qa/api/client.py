"""Asking a running ``qa serve`` over HTTP, so that a shell loop does not load the models for each
question (``qa ask --server URL``)."""

from __future__ import annotations

from typing import Any

import httpx

from index.errors import UserError
from qa.answer import Answer


class ServerError(UserError):
    """The server cannot be reached, or refused the question; one sentence says which."""


class AnswerClient:
    """``ask`` posts to ``<url>/api/ask``. A login (``QA_AUTH``) or one in the URL (``http://user:pw@…``)
    is sent as HTTP Basic authentication."""

    def __init__(self, url: str, login: tuple[str, str] | None = None, timeout: float = 300.0):
        self.url = url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise ServerError(f"the server address must start with http:// or https://, not {url!r}")
        # A server on this machine is reached directly, whatever proxy the environment names.
        local = httpx.URL(self.url).host in ("127.0.0.1", "localhost", "::1")
        self._http = httpx.Client(auth=login, timeout=timeout, trust_env=not local)

    def ask(
        self,
        question: str,
        history: list[tuple[str, str]] | None = None,
        *,
        since: str | None = None,
        until: str | None = None,
        sources: list[str] | None = None,
    ) -> Answer:
        """The server's answer; ``since``, ``until`` and ``sources`` filter the articles as in ``Engine.ask``."""
        body: dict[str, Any] = {"question": question, "history": [list(turn) for turn in history or []]}
        filters = {"since": since, "until": until, "sources": sources}
        body |= {name: value for name, value in filters.items() if value}
        return Answer.from_dict(self._post("/api/ask", body))

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            reply = self._http.post(self.url + path, json=body)
        except httpx.HTTPError as error:
            raise ServerError(f"cannot reach the qa server at {self.url}: {error}; is 'qa serve' running?") from error
        if reply.status_code != 200:
            raise ServerError(f"the qa server at {self.url} refused: {_reason(reply)}")
        return reply.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AnswerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(reply: httpx.Response) -> str:
    try:
        return str(reply.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {reply.status_code}"
