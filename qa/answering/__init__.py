"""The answering chain, one module per step:

    rewrite (a follow-up into a standalone question) → retrieve (the candidate sentences)
    → prompt (the sentences numbered) → generate (the model's reply, held to a JSON schema)
    → citations (numbers back to verbatim sentences, repaired) → verify (each claim against the
    sentences it cites: verdict, evidence span, confidence)

``chain.Answerer`` runs them in order; the engine owns the parts they need.
"""

from qa.answering.chain import Answerer, History
from qa.answering.citations import ABSTENTION, is_abstention
from qa.answering.generate import answer_schema
from qa.answering.rewrite import conversation

__all__ = ["ABSTENTION", "Answerer", "History", "answer_schema", "conversation", "is_abstention"]
