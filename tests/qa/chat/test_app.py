"""The chat page served for real (Gradio, queue on) over the real index, embedder and embedded model,
called through ``gradio_client`` as a program or a second browser tab would."""

from __future__ import annotations

import html
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from gradio_client import Client, handle_file

from qa.chat import build_app, launch
from qa.engine import Engine
from qa.settings import Settings
from tests.conftest import SEEDS, free_port, seed_questions, write_articles

QUESTIONS = seed_questions()


@contextmanager
def serving(engine: Engine, **settings) -> Iterator[str]:
    demo = build_app(engine)
    url = launch(demo, engine.settings.replace(chat_port=free_port(), **settings), block=False)
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def seed_chat(seed_engine) -> Iterator[str]:
    with serving(seed_engine) as url:
        yield url


def ask(client: Client, question: str) -> tuple[list, tuple]:
    """Every streamed output of the chat endpoint, and the last: (messages, question box, citation list,
    source panel, answer details)."""
    job = client.submit(question, 4, api_name="/chat")
    final = job.result(timeout=600)
    return job.outputs(), final


def gold(question_id: str) -> str:
    return QUESTIONS[question_id]["gold"][0]["sentence"]


def plain(page_html: str) -> str:
    """The HTML without the evidence highlights inside cited sentences, to look for a whole sentence."""
    return re.sub(r'<mark class="qa-evidence">(.*?)</mark>', r"\1", page_html)


def gold_cited(question_id: str, details: dict) -> bool:
    accepted = {g["sentence"] for g in QUESTIONS[question_id]["gold"]}
    return bool(accepted & {c["sentence"] for c in details["citations"]})


@pytest.mark.llm
@pytest.mark.server
def test_chat_endpoint_streams_the_answer_and_cites_the_sentence(seed_chat):
    client = Client(seed_chat, verbose=False)
    question = QUESTIONS["de-01"]
    outputs, (messages, _box, _choices, source, details) = ask(client, question["question"])
    assert any("qa-streaming" in out[0][-1]["content"][0]["text"] for out in outputs[:-1]), "no streamed piece"
    assert outputs[0][1] == ""  # the question box is emptied at once
    assert details["answerable"] and details["language"] == "de"
    assert gold("de-01") in [c["sentence"] for c in details["citations"]]
    assert "Amir-Abdollahian" in details["text"]
    last = messages[-1]["content"][0]["text"]
    assert html.escape(gold("de-01")) in plain(last) and 'class="qa-citations"' in last and "#qa-cite-0-1" in last
    assert '<mark class="qa-cited" id="qa-cited">' in source
    assert html.escape(details["citations"][0]["sentence"]) in plain(source).split('id="qa-cited">')[1]
    assert "qa-translate" not in source  # a German answer's sentence needs no translation


@pytest.mark.llm
@pytest.mark.server
def test_follow_up_uses_this_sessions_conversation(seed_chat):
    client = Client(seed_chat, verbose=False)
    question = QUESTIONS["de-08"]["question"]
    ask(client, question)
    _, (messages, *_rest, details) = ask(client, "Und wo liegt die Stadt?")
    assert "Wonsan" in details["question"], details["question"]
    assert gold("de-08") in [c["sentence"] for c in details["citations"]]
    assert len(messages) == 4 and "Und wo liegt die Stadt?" in messages[2]["content"][0]["text"]


@pytest.mark.server
def test_abstention_and_empty_question_are_shown_as_such_and_the_session_goes_on(seed_chat):
    client = Client(seed_chat, verbose=False)
    _, (messages, *_rest) = ask(client, "   ")
    assert "qa-notice" in messages[-1]["content"][0]["text"] and "Type a question" in messages[-1]["content"][0]["text"]
    _, (messages, *_rest, details) = ask(client, "Wie backe ich einen Apfelkuchen?")
    assert not details["answerable"] and not details["citations"]
    assert 'class="qa-abstain"' in messages[-1]["content"][0]["text"]


@pytest.mark.llm
@pytest.mark.server
def test_four_sessions_at_once_each_get_their_own_cited_answer(seed_chat):
    chosen = ["de-01", "de-02", "en-16", "de-08"]
    results: dict[str, tuple] = {}
    errors: list[BaseException] = []

    def session(question_id: str) -> None:
        try:
            client = Client(seed_chat, verbose=False)
            results[question_id] = ask(client, QUESTIONS[question_id]["question"])[1]
        except BaseException as error:  # reported below, with the question it belongs to
            errors.append(error)

    threads = [threading.Thread(target=session, args=(q,)) for q in chosen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    assert not errors, errors
    for question_id in chosen:
        messages, _box, _choices, source, details = results[question_id]
        assert [m["role"] for m in messages] == ["user", "assistant"], question_id
        assert html.escape(QUESTIONS[question_id]["question"]) in messages[0]["content"][0]["text"]
        assert details["question"] == QUESTIONS[question_id]["question"]
        assert gold_cited(question_id, details), (question_id, details["text"], details["citations"])
        assert html.escape(details["citations"][0]["sentence"]) in plain(source)


@pytest.mark.llm
@pytest.mark.server
def test_translate_shows_a_labelled_machine_translation_of_the_cited_sentence(seed_chat):
    client = Client(seed_chat, verbose=False)
    _, (*_rest, source, details) = ask(client, QUESTIONS["en-16"]["question"])
    assert details["language"] == "en" and details["citations"], details
    assert "Show an English machine translation" in source
    sentence = html.escape(details["citations"][0]["sentence"])
    panel = client.predict(api_name="/translate")
    assert "Machine translation (by the language model) — the German original above is the citation." in panel
    assert "qa-translate" not in panel and "Traceback" not in panel
    german, translated = plain(panel).split('<div class="qa-translation">', 1)
    assert sentence in german  # the German original stays shown, and stays the citation
    english = translated.split('<blockquote lang="en">', 1)[1].split("</blockquote>", 1)[0]
    assert english.strip() and english != sentence
    assert client.predict(api_name="/translate") == panel  # from this session's cache


FESTIVAL = """Kürbisfest in Oberwiesental zieht Rekordzahl an
Datum: 2026-10-04
Quelle: dpa

Das Kürbisfest in Oberwiesental hat am Wochenende 48.500 Besucher angezogen, so viele wie nie zuvor.
Der schwerste Kürbis des Festes wog 612 Kilogramm und stammte von einem Hof aus Annaberg.
Die Veranstalter planen für das kommende Jahr eine zweite Festwiese.
"""


@pytest.fixture
def upload_chat(seed_engine, tmp_path) -> Iterator[tuple[str, Engine]]:
    """A page over a private index of two seed articles, sharing the loaded model."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in sorted(p.name for p in SEEDS.glob("*.txt"))[:2]:
        shutil.copy(SEEDS / name, corpus / name)
    engine = Engine(Settings.load(index_dir=tmp_path / "index"), chat_model=seed_engine.llm)
    engine.index([corpus])
    with engine, serving(engine) as url:
        yield url, engine


@pytest.mark.llm
@pytest.mark.server
def test_an_uploaded_article_becomes_answerable_and_a_bad_file_is_refused(upload_chat, tmp_path):
    url, engine = upload_chat
    client = Client(url, verbose=False)
    article = tmp_path / "kuerbisfest.txt"
    article.write_text(FESTIVAL, encoding="utf-8")
    status, table, _choice, about = client.predict([handle_file(article)], api_name="/add_articles")
    assert "Added" in status and "Kürbisfest in Oberwiesental" in status
    assert "Kürbisfest in Oberwiesental zieht Rekordzahl an" in [row[0] for row in table["data"]]
    assert "3 articles" in about
    _, (*_rest, details) = ask(client, "Wie viele Besucher hatte das Kürbisfest in Oberwiesental?")
    assert "48.500" in details["text"], details["text"]
    assert details["citations"][0]["doc_id"] == "kuerbisfest"
    assert "48.500 Besucher" in details["citations"][0]["sentence"]

    before, generation = engine.store.versions(), engine.store.docstore.generation
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.4 not an article")
    empty = tmp_path / "leer.txt"
    empty.write_bytes(b"")
    status, table, *_ = client.predict([handle_file(bad), handle_file(empty)], api_name="/add_articles")
    assert "notes.pdf" in status and ".txt" in status and "leer.txt" in status, status
    assert "Added" not in status
    assert engine.store.versions() == before and engine.store.docstore.generation == generation
    assert len(table["data"]) == 3

    status, table, *_ = client.predict("kuerbisfest", api_name="/remove_article")
    assert "Removed" in status and len(table["data"]) == 2
    _, (*_rest, details) = ask(client, "Wie viele Besucher hatte das Kürbisfest in Oberwiesental?")
    assert "kuerbisfest" not in [c["doc_id"] for c in details["citations"]]


@pytest.mark.server
def test_backend_down_is_a_message_in_the_chat_and_the_server_keeps_running(seed_engine, tmp_path):
    closed = free_port()  # nothing listens here
    settings = seed_engine.settings.replace(
        llm="openai", llm_model="any", llm_base_url=f"http://127.0.0.1:{closed}/v1", llm_timeout=5.0
    )
    engine = Engine(settings)
    with engine, serving(engine) as url:
        client = Client(url, verbose=False)
        for _ in range(2):
            _, (messages, *_rest, details) = ask(client, QUESTIONS["de-01"]["question"])
            text = messages[-1]["content"][0]["text"]
            assert "qa-notice" in text and "LLM server" in text, text
            assert "Traceback" not in text and details is None


@pytest.mark.server
def test_login_is_required_when_qa_auth_is_set(seed_engine):
    with serving(seed_engine, auth="reader:geheim") as url:
        with pytest.raises(Exception):  # noqa: B017 - the client refuses a page it may not open
            Client(url, verbose=False)
        client = Client(url, auth=("reader", "geheim"), verbose=False)
        assert client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/chat"]


@pytest.mark.llm
@pytest.mark.server
def test_the_date_and_outlet_settings_filter_the_answer(seed_chat):
    client = Client(seed_chat, verbose=False)
    question = QUESTIONS["de-01"]["question"]  # its gold sentence is in the Reuters article
    held = "the 5 articles are dated 2023-10 (3 have no date); outlets: DTZ, Reuters, toi-allgemeines"
    refusals = [
        (("2030-01-01", "", []), f"No article matches since 2030-01-01: {held}."),
        (("", "", ["BBC"]), f"No article matches from BBC: {held}."),
        (("gestern", "", []), "The date 'gestern' for Since cannot be read; write it as 2023-10-05 or 5.10.2023."),
        (("20.10.2023", "2023-10-01", []), "Since 2023-10-20 comes after Until 2023-10-01; swap them"),
    ]
    for (since, until, outlets), notice in refusals:  # a notice in the chat; nothing is generated
        messages, *_rest, details = client.predict(question, 4, False, since, until, outlets, api_name="/chat")
        text = messages[-1]["content"][0]["text"]
        assert "qa-notice" in text and html.escape(notice) in text, text
        assert details is None
    *_rest, details = client.predict(question, 4, False, "", "", ["Reuters"], api_name="/chat")
    assert details["citations"] and {c["doc_id"] for c in details["citations"]} == {"000_c0f6a50aa29bb6c2"}
    assert gold("de-01") in [c["sentence"] for c in details["citations"]]


def test_the_outlet_picker_lists_the_outlets_and_follows_the_articles(seed_engine, tmp_path):
    from qa.chat.app import ChatPage

    demo = build_app(seed_engine)
    picker = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "qa-outlets")
    assert picker.multiselect and picker.choices == [
        ("DTZ (1)", "DTZ"),
        ("Reuters (1)", "Reuters"),
        ("toi-allgemeines (1)", "toi-allgemeines"),
    ]
    # Refreshed whenever the article list is: on opening the page, after an upload and a removal.
    refreshed = [f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "filter_choices"]
    assert {demo.fns[f.trigger_after].fn.__name__ for f in refreshed} == {"articles", "add_articles", "remove_article"}

    engine = Engine(Settings.load(index_dir=tmp_path / "index"), chat_model=seed_engine.llm)
    with engine:
        page = ChatPage(engine)
        assert page.filter_choices() == ({"__type__": "update", "choices": []}, "")
        article = write_articles(tmp_path / "upload", ["bahn"]) / "bahn.md"
        assert page.library.add([("bahn.md", article)]).added
        choices, dates = page.filter_choices()
        assert choices["choices"] == [("AFP (1)", "AFP")] and dates == "The one article is dated 2023-10-12."
