"""The chat page's HTML and per-visitor state, on hand-made answers (the page itself is tested in
test_chat_app.py and test_chat_browser.py with the real engine)."""

import re

from index.documents import Document
from qa.answer import Answer, Citation
from qa.chat import render
from qa.chat.session import ChatSession, Turn

TEXT = "Erster Satz hier. Der Minister <b>sprach</b> mit Kim. Dritter Satz & Schluss."


def _citation(sentence: str, **changes) -> Citation:
    start = TEXT.index(sentence)
    values = dict(
        doc_id="doc", title="Titel <i>", source="/srv/corpus/doc.txt", sentence_index=1, sentence=sentence,
        start=start, end=start + len(sentence), score=0.9, date="2023-09-13", publisher="dpa",
    )
    values.update(changes)
    return Citation(**values)


def _document() -> Document:
    return Document(doc_id="doc", title="Titel <i>", source="/srv/corpus/doc.txt", text=TEXT)


def _answer(language: str = "de", **changes) -> Answer:
    values = dict(
        text="Er sprach mit Kim [1] und *nicht* mit _ihm_ [2] [7].",
        language=language,
        answerable=True,
        citations=[_citation("Der Minister <b>sprach</b> mit Kim."), _citation("Erster Satz hier.", sentence_index=0)],
    )
    values.update(changes)
    return Answer(**values)


def test_answer_links_its_markers_and_lists_citations_with_title_date_and_agency():
    html = render.answer_message(_answer(), turn=3)
    assert '<a class="qa-cite qa-marker" href="#qa-cite-3-1">[1]</a>' in html
    assert '<a class="qa-cite qa-marker" href="#qa-cite-3-2">[2]</a>' in html
    assert "[7]" in html and "#qa-cite-3-7" not in html  # no such citation: left as text
    assert "*nicht* mit _ihm_" in html  # no Markdown
    assert "Titel &lt;i&gt;" in html and "2023-09-13 · dpa" in html
    assert "„Der Minister &lt;b&gt;sprach&lt;/b&gt; mit Kim.“" in html
    assert "<b>" not in html and "<i>" not in html
    assert html.index("#qa-cite-3-1") < html.index("Quellen") < html.index("Erster Satz hier.")


def test_english_answer_labels_the_quote_as_the_german_original():
    html = render.answer_message(_answer("en"), turn=0)
    assert "Sources" in html and "German original:" in html
    assert "Original" not in render.answer_message(_answer("de"), turn=0)


def test_abstention_looks_different_and_has_no_citations():
    answer = Answer(text="The articles don't say.", language="en", answerable=False)
    html = render.answer_message(answer, turn=0)
    assert 'class="qa-abstain"' in html and "No answer in the articles" in html
    assert "qa-citations" not in html and "qa-answer" not in html
    german = Answer(text="Dazu steht nichts in den Artikeln.", language="de", answerable=False)
    assert "Keine Antwort in den Artikeln" in render.answer_message(german, 0)


def test_unsupported_names_are_reported_and_notices_escape():
    assert "Not found in the cited sentences: Putin" in render.answer_message(_answer("en", unsupported=["Putin"]), 0)
    notice = render.notice_message("the LLM server <x> failed")
    assert 'role="alert"' in notice and "&lt;x&gt;" in notice


def test_source_panel_marks_the_cited_sentence_at_its_offsets_and_the_others_lightly():
    panel = render.source_panel(_answer(), 0, _document())
    cited = re.search(r'<mark class="qa-cited" id="qa-cited">(.*?)</mark>', panel)
    assert cited and cited.group(1) == "Der Minister &lt;b&gt;sprach&lt;/b&gt; mit Kim."
    assert '<mark class="qa-also">Erster Satz hier.</mark>' in panel
    assert "Citation 1 of 2 · sentence 2" in panel and "2023-09-13 · dpa · doc.txt" in panel
    assert "/srv/corpus" not in panel  # the file name only
    assert "Dritter Satz &amp; Schluss." in panel and "Original sentence" not in panel
    second = render.source_panel(_answer(), 1, _document())
    assert '<mark class="qa-cited" id="qa-cited">Erster Satz hier.</mark>' in second


def test_source_panel_shows_the_german_original_for_an_english_answer():
    panel = render.source_panel(_answer("en"), 0, _document())
    assert "Original sentence (German)" in panel
    assert '<blockquote lang="de">Der Minister &lt;b&gt;sprach&lt;/b&gt; mit Kim.</blockquote>' in panel


def test_source_panel_when_the_article_was_removed_or_changed():
    for document in (None, Document(doc_id="doc", title="T", source="s", text="Ganz anderer Text jetzt.")):
        panel = render.source_panel(_answer(), 0, document)
        assert "removed or changed since the answer" in panel
        assert '<mark class="qa-cited" id="qa-cited">Der Minister &lt;b&gt;sprach&lt;/b&gt; mit Kim.</mark>' in panel


def test_anchor_round_trip_and_bad_anchors():
    assert render.parse_anchor(render.cite_anchor(4, 2)) == (4, 1)
    assert render.parse_anchor("qa-cite-4-2:1700000000") == (4, 1)
    for bad in ("", "qa-cite-4-0", "qa-cite-x-1", "javascript:alert(1)", None):
        assert render.parse_anchor(bad) is None


def test_session_history_messages_and_stepping():
    session = ChatSession()
    session.turns.append(Turn("Mit wem sprach er?", answer=_answer()))
    session.turns.append(Turn("", notice="Type a question first."))
    session.turns.append(Turn("Und wann?", partial="Im Sept"))
    session.turns.append(Turn("Where?"))
    assert session.history() == [("Mit wem sprach er?", _answer().text)]
    messages = session.messages()
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant", "user", "assistant", "user", "assistant"]
    assert "qa-notice" in messages[2]["content"] and "qa-streaming" in messages[4]["content"]
    assert "Searching the articles" in messages[6]["content"]
    assert not session.select(1, 0) and not session.select(0, 2) and session.selected is None
    assert session.select(0, 1) and session.selected == (0, 1)
    assert session.step(1) and session.selected == (0, 0)
    assert session.step(-1) and session.selected == (0, 1)
