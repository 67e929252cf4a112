"""LLM backends behind one protocol (``ChatModel``): the embedded GGUF on llama.cpp by default, any
GGUF path, Ollama, or an OpenAI-compatible server. Abilities only some backends have are protocols of
their own: ``TracesReplies`` (how sure the model was of its reply: llama.cpp) and ``Judges`` (a yes/no
probability: llama.cpp and the servers)."""

from __future__ import annotations

from pathlib import Path

from qa.llm.base import ChatModel, Judges, TracesReplies, complete
from qa.llm.errors import LLMUnavailableError
from qa.settings import Settings

__all__ = ["ChatModel", "Judges", "LLMUnavailableError", "TracesReplies", "complete", "make_llm"]


def make_llm(settings: Settings) -> ChatModel:
    from qa.llm.llamacpp import LlamaCppChat
    from qa.llm.model_file import MODEL_NAME, ensure_model

    if settings.llm == "embedded":
        path = ensure_model(settings.model_dir)
        description = f"embedded {MODEL_NAME} (llama.cpp)"
        return LlamaCppChat(path, settings.llm_context, settings.llm_threads, description, _states(settings))
    if settings.llm == "gguf":
        path = Path(settings.llm_model or "").expanduser()
        description = f"{path.name} (llama.cpp)"
        return LlamaCppChat(path, settings.llm_context, settings.llm_threads, description, _states(settings))
    from qa.llm import remote

    if settings.llm == "ollama":
        return remote.ollama_chat(
            settings.llm_model or "", settings.llm_base_url, settings.llm_timeout, settings.max_answer_tokens
        )
    return remote.openai_chat(
        settings.llm_model or "", settings.llm_base_url, settings.llm_api_key, settings.llm_timeout
    )


def _states(settings: Settings) -> Path:
    """Where llama.cpp keeps evaluated prompt starts between runs: beside the embedded model."""
    from qa.llm.model_file import default_cache_dir

    return (settings.model_dir or default_cache_dir()) / "prompt-states"
