"""Sentence-aligned chunks within a token budget, counted with tiktoken."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from index.documents import Chunk, Document

_ENCODING = "cl100k_base"


def _bundled_tiktoken_cache() -> str | None:
    """llama-index ships the BPE files; pointing tiktoken there keeps it off the network."""
    try:
        import llama_index.core
    except ImportError:
        return None
    cache = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"
    return str(cache) if cache.is_dir() else None


@lru_cache(maxsize=1)
def _encoder():
    if "TIKTOKEN_CACHE_DIR" not in os.environ and (cache := _bundled_tiktoken_cache()):
        os.environ["TIKTOKEN_CACHE_DIR"] = cache
    import tiktoken

    return tiktoken.get_encoding(_ENCODING)


def count_tokens(text: str) -> int:
    return len(_encoder().encode(text, disallowed_special=()))


def chunk_document(document: Document, max_tokens: int) -> list[Chunk]:
    """Greedy packing of whole sentences. A sentence longer than the budget becomes a chunk of its
    own rather than being cut, because the sentence is the unit of citation."""
    chunks: list[Chunk] = []
    first = 0
    used = 0
    counts = [count_tokens(document.sentence_text(s.index)) for s in document.sentences]
    for index, tokens in enumerate(counts):
        if index > first and used + tokens > max_tokens:
            chunks.append(_make_chunk(document, first, index - 1, used))
            first, used = index, 0
        used += tokens
    if counts:
        chunks.append(_make_chunk(document, first, len(counts) - 1, used))
    return chunks


def _make_chunk(document: Document, first: int, last: int, tokens: int) -> Chunk:
    start = document.sentences[first].start
    end = document.sentences[last].end
    chunk_id = document.vector_id("c", first, last)
    return Chunk(chunk_id, document.doc_id, first, last, document.text[start:end], tokens)
