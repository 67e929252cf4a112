"""The index: articles → sentences → chunks → embeddings → Chroma + document store (the builder),
read back as a snapshot and searched by the hybrid retriever; ``index.Index`` owns it all."""

import os

# Everything runs offline: no model hub, no telemetry. Users may still override these.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def __getattr__(name: str):
    """``index.Index`` and ``index.IndexConfig``, imported when first asked for: the index's owner
    brings in Chroma and the embedder, which the light modules of this package do not need."""
    if name in ("Index", "IndexConfig"):
        from index import store

        return getattr(store, name)
    raise AttributeError(f"module 'index' has no attribute {name!r}")
