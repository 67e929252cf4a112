"""What the qa tests share: a hand-made answer about a hand-made article, and the chat page over an
engine that only translates (tests/qa/chat/test_render.py, tests/qa/test_translation.py)."""

from types import SimpleNamespace
from typing import TYPE_CHECKING

from index.documents import Document
from qa.answer import Answer, Citation

if TYPE_CHECKING:
    from qa.chat.app import ChatPage
    from qa.chat.session import ChatSession

ARTICLE_TEXT = (
    "Erster Satz hier. Der Minister <b>sprach</b> mit Kim. Dritter Satz & Schluss. "
    "Vier <b>Minister</b> & Kim trafen sich am Montag."
)


def a_citation(sentence: str, **changes) -> Citation:
    """A citation of ``sentence`` at its offsets in ARTICLE_TEXT."""
    start = ARTICLE_TEXT.index(sentence)
    values = dict(
        doc_id="doc",
        title="Titel <i>",
        source="/srv/corpus/doc.txt",
        sentence_index=1,
        sentence=sentence,
        start=start,
        end=start + len(sentence),
        score=0.9,
        date="2023-09-13",
        publisher="dpa",
    )
    values.update(changes)
    return Citation(**values)


def a_document() -> Document:
    """The article that ARTICLE_TEXT is the text of."""
    return Document(doc_id="doc", title="Titel <i>", source="/srv/corpus/doc.txt", text=ARTICLE_TEXT)


def an_answer(language: str = "de", **changes) -> Answer:
    """An answer citing two sentences of ARTICLE_TEXT, with markers for both and for one it does not have."""
    values = dict(
        text="Er sprach mit Kim [1] und *nicht* mit _ihm_ [2] [7].",
        language=language,
        answerable=True,
        citations=[
            a_citation("Der Minister <b>sprach</b> mit Kim."),
            a_citation("Erster Satz hier.", sentence_index=0),
        ],
    )
    values.update(changes)
    return Answer(**values)


class TranslatingEngine:
    """The two things the page asks an engine for here: the article, and a translation."""

    def __init__(self, *outcomes: str | Exception):
        self.outcomes = list(outcomes)
        self.asked: list[tuple[str, str]] = []

    def corpus(self) -> SimpleNamespace:
        return SimpleNamespace(documents=self.documents())

    def documents(self) -> dict[str, Document]:
        return {"doc": a_document()}

    def translate(self, text: str, language: str = "en") -> str:
        self.asked.append((text, language))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def page_with_answer(engine: TranslatingEngine, language: str = "en") -> tuple["ChatPage", "ChatSession"]:
    """A chat page over ``engine`` and a session whose one answer (in ``language``) is open in the panel."""
    from qa.chat.app import ChatPage  # Gradio: imported by the tests that use the page only
    from qa.chat.session import ChatSession, Turn

    session = ChatSession()
    session.turns.append(Turn("Who spoke with Kim?", answer=an_answer(language)))
    assert session.select(0, 0)
    return ChatPage(engine, library=SimpleNamespace()), session


