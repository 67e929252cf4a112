"""Our ``ChatModel`` (the embedded GGUF by default) as a llama-index LLM, so that a plain llama-index
pipeline can run on exactly the model our engine uses.

Prompts and chat messages both reach the model as chat messages, so its own chat template is applied
(a completion prompt becomes one user message). No JSON schema is passed: the model writes free text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import PrivateAttr

from qa.llm.base import ChatModel


class ChatModelLLM(CustomLLM):
    """A llama-index LLM that answers through ``ChatModel.stream(messages, None, max_tokens)``."""

    context_window: int = 4096
    num_output: int = 256
    model_name: str = "chat-model"
    _model: ChatModel = PrivateAttr()

    def __init__(self, model: ChatModel, context_window: int = 4096, num_output: int = 256, **kwargs: Any):
        super().__init__(context_window=context_window, num_output=num_output, model_name=model.description, **kwargs)
        self._model = model

    @classmethod
    def class_name(cls) -> str:
        return "ChatModelLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            is_chat_model=True,
            model_name=self.model_name,
        )

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join(self._model.stream(_as_dicts(messages), None, self.num_output))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def pieces() -> ChatResponseGen:
            text = ""
            for piece in self._model.stream(_as_dicts(messages), None, self.num_output):
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

        return pieces()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        text = "".join(self._model.stream([{"role": "user", "content": prompt}], None, self.num_output))
        return CompletionResponse(text=text)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        def pieces() -> CompletionResponseGen:
            text = ""
            for piece in self._model.stream([{"role": "user", "content": prompt}], None, self.num_output):
                text += piece
                yield CompletionResponse(text=text, delta=piece)

        return pieces()


def _as_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": str(getattr(m.role, "value", m.role)), "content": m.content or ""} for m in messages]
