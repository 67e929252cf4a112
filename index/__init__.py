"""Builds the index: articles → sentences → chunks → embeddings → Chroma + document store."""

import os

# Everything runs offline: no model hub, no telemetry. Users may still override these.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
