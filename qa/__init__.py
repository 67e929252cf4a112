"""Answers questions over the indexed articles, citing the exact supporting sentences."""

import index  # noqa: F401  (sets the offline environment before any model library loads)
from index.retrieval import SentenceHit
from qa.answer import Answer, Citation
from qa.engine import Engine, QuestionError, open_engine
from qa.filters import ArticleFilter, FilterError
from qa.llm import LLMUnavailableError
from qa.settings import Settings

__all__ = [
    "Answer",
    "ArticleFilter",
    "Citation",
    "Engine",
    "FilterError",
    "LLMUnavailableError",
    "QuestionError",
    "SentenceHit",
    "Settings",
    "open_engine",
]
