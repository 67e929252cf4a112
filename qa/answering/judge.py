"""The LLM as judge: the probability that the cited sentences state the answer to the question.

The model gets a prompt of its own with a few examples (prompts/judge.*.txt): the cited sentences,
the question and the answer, nothing else, and replies "yes" or "no". On llama.cpp the probability
of "yes" against "no" is read off the next token's logits; the prompt's fixed start is kept, so only
the sentences, the question and the answer are evaluated. A server is asked for a one-word reply held
to a schema, which gives 1 or 0.

Asked instead as one more turn of the conversation that wrote the answer ("does sentence [1] state
exactly what your answer says?"), which costs half as much, the model agreed with itself: on the
seed questions that judgement told right answers from wrong ones no better than chance (AUROC 0.50,
against 0.69 for the prompt of its own; see docs/evaluation.md "Trust").
"""

from __future__ import annotations

import logging

from qa.llm import ChatModel, Judges, LLMUnavailableError
from qa.prompts import render

log = logging.getLogger(__name__)

_WORDS = {"de": ("ja", "nein"), "en": ("yes", "no")}


def judge_answer(llm: ChatModel, question: str, answer: str, sentences: list[str], language: str) -> float | None:
    """P(yes) that ``sentences`` state ``answer`` to ``question``; None when the backend cannot judge
    (it is no ``Judges``) or fails to (the terms then decide alone)."""
    if not isinstance(llm, Judges) or not sentences:
        return None
    messages = render("judge", language, sentence=" ".join(sentences), question=question, answer=answer)
    yes, no = _WORDS[language]
    try:
        return float(llm.judge(messages, yes, no))
    except LLMUnavailableError as error:
        log.warning("the answer could not be judged: %s", error)
        return None
