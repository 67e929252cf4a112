"""An English question over German articles is searched in German as well.

BM25 finds nothing of an English question in German text, and the small multilingual embedder ranks
an English question against German sentences much less sharply than the same question in German.
So the LLM writes the question in German (``prompts/search.en.txt``: eight short examples whose
evaluated state is kept, so only the question itself is read), and retrieval ranks with both forms:
dense on each, BM25 on both, and each sentence by its mean similarity to the two (``index.retrieval``).

Names and numbers survive the small model's translation better than whole phrases, and the English
question keeps its own dense match: the German form adds to the search rather than replacing it.
It is shown wherever a user can see what was searched (``qa retrieve``, the answer's notes, the API).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from index.language import detect_language
from qa.llm import ChatModel, complete
from qa.prompts import render

log = logging.getLogger(__name__)

#: The languages whose questions get a German form: a German question is searched as asked.
TRANSLATED = ("en",)
PROMPT = "search"
_SCHEMA = {"type": "object", "properties": {"german": {"type": "string"}}, "required": ["german"]}
#: A German question is about as long as its English one; this leaves room for long ones and the JSON.
_MAX_TOKENS = 120


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What retrieval searches with: the question as asked and, for an English question, its German
    form."""

    question: str
    language: str
    #: The question in German as the LLM wrote it; None where the question is searched as asked.
    german: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"question": self.question, "language": self.language, "german": self.german}


def german_form(llm: ChatModel, question: str) -> str | None:
    """``question`` in German, as the LLM writes it for a search; None where it gives nothing usable
    (no German, the question unchanged, or a reply far longer than the question)."""
    messages = render(PROMPT, "en", question=question.replace('"', "'"))
    raw = complete(llm, messages, _SCHEMA, _MAX_TOKENS)
    try:
        german = json.loads(raw).get("german", "")
    except (json.JSONDecodeError, AttributeError):
        german = ""
    german = " ".join(german.split()) if isinstance(german, str) else ""
    if not german or german == question or len(german) > 2 * len(question) + 40:
        log.info("searching %r as asked; the German form was %r", question, raw)
        return None
    log.debug("searching %r also as %r", question, german)
    return german


class SearchForms:
    """The search queries of questions, with the German forms of recent ones kept, so that the same
    question asked again (a retry, an evaluation that answers and then retrieves) is translated once.
    ``llm`` gives the model when a question first needs it; ``enabled`` False searches every question
    as asked."""

    def __init__(self, llm: Callable[[], ChatModel], enabled: bool = True, kept: int = 256):
        self.llm = llm
        self.enabled = enabled
        self.kept = kept
        self._forms: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()

    def query(self, question: str) -> SearchQuery:
        language = detect_language(question)
        if not self.enabled or language not in TRANSLATED:
            return SearchQuery(question, language)
        with self._lock:
            known = question in self._forms
            german = self._forms.get(question)
        if not known:
            german = german_form(self.llm(), question)
            with self._lock:
                self._forms[question] = german
                while len(self._forms) > self.kept:
                    self._forms.popitem(last=False)
        return SearchQuery(question, language, german)
