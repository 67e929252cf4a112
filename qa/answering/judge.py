"""The LLM as judge: the probability that the cited sentences state the answer. On llama.cpp it is
read off the next token's logits (P("yes") against P("no")); a server is asked for a one-word reply
held to a schema, which gives 1 or 0.

Two ways to ask, measured against each other by ``benchmarks/verification.py``:
- ``judge_in_conversation``: one more turn in the conversation that produced the answer ("does
  sentence [1] state exactly what your answer says?"). On llama.cpp only that turn is evaluated.
- ``judge_sentences``: a prompt of its own with a few examples (prompts/judge.*.txt): the cited
  sentences, the question and the answer, nothing else.
"""

from __future__ import annotations

import logging

from qa.llm import ChatModel, LLMUnavailableError
from qa.prompts import render

log = logging.getLogger(__name__)

_WORDS = {"de": ("ja", "nein"), "en": ("yes", "no")}
_SENTENCES = {"de": ("Satz {}", "den Sätzen {}", " und "), "en": ("sentence {}", "sentences {}", " and ")}


def judge_in_conversation(
    llm: ChatModel, messages: list[dict[str, str]], reply: str, cited: list[int], language: str
) -> float | None:
    """P(yes) that the sentences numbered ``cited`` in ``messages`` state the answer the model gave
    in ``reply``; None when the backend cannot judge (the terms then decide alone)."""
    if not cited:
        return None
    check = render("verify", language, sentences=_name(cited, language))
    return _ask(llm, [*messages, {"role": "assistant", "content": reply}, *check], language)


def judge_sentences(llm: ChatModel, question: str, answer: str, sentences: list[str], language: str) -> float | None:
    """P(yes) that ``sentences`` state ``answer`` to ``question``, asked on its own."""
    if not sentences:
        return None
    messages = render("judge", language, sentence=" ".join(sentences), question=question, answer=answer)
    return _ask(llm, messages, language)


def _ask(llm: ChatModel, messages: list[dict[str, str]], language: str) -> float | None:
    judge = getattr(llm, "judge", None)
    if judge is None:
        return None
    yes, no = _WORDS[language]
    try:
        return float(judge(messages, yes, no))
    except LLMUnavailableError as error:
        log.warning("the answer could not be judged: %s", error)
        return None


def _name(cited: list[int], language: str) -> str:
    one, several, conjunction = _SENTENCES[language]
    numbers = [f"[{n}]" for n in cited]
    if len(numbers) == 1:
        return one.format(numbers[0])
    return several.format(", ".join(numbers[:-1]) + conjunction + numbers[-1])
