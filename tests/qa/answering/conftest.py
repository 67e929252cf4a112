"""What the answering tests share: a retrieved sentence, the chain over a scripted model, a run of it,
the model's JSON reply and a scripted model that also judges."""

import json

from index.retrieval import SentenceHit
from qa.answer import Answer, QuotePiece
from qa.answering import Answerer
from qa.settings import Settings
from tests.conftest import ScriptedModel

SENTENCE = "Der Minister traf auf Kim selbst - für rund eine Stunde."
HIT = SentenceHit(
    "003", "Titel", "seeds/003.txt", 6, SENTENCE, 100, 100 + len(SENTENCE), 0.9, 0.9, 1.0, vector_id="v"
)


def answerer(model, hits=(HIT,), similarity=0.9, **settings):
    return Answerer(
        lambda: model,
        lambda q, k: list(hits),
        lambda text, offered: [similarity] * len(offered),
        Settings.load(**settings),
    )


def run(answerer_, question, history=None):
    """The text streamed (the quote's pieces, then the answer's text) and the final answer."""
    items = list(answerer_.stream(question, history))
    assert isinstance(items[-1], Answer) and all(isinstance(i, str | QuotePiece) for i in items[:-1])
    quotes = [i.text for i in items[:-1] if isinstance(i, QuotePiece)]
    text = [i for i in items[:-1] if isinstance(i, str)]
    # The quote's pieces come first; with a quote, the answer's text is passed on once, after it.
    assert items[: len(quotes)] == [QuotePiece(q) for q in quotes] and (not quotes or len(text) == 1)
    return "".join(text), items[-1], "".join(quotes)


def reply(answer, quote="rund eine Stunde", sources=(1,)):
    return json.dumps({"sources": list(sources), "quote": quote, "answer": answer}, ensure_ascii=False)


class JudgingModel(ScriptedModel):
    """A scripted model that also judges, with a fixed P(yes), and records what it was asked."""

    def __init__(self, p_yes: float, *replies: str):
        super().__init__(*replies)
        self.p_yes = p_yes
        self.judged: list[list[dict]] = []

    def judge(self, messages, yes, no):
        self.judged.append(messages)
        return self.p_yes
