"""The chat page's HTML and per-visitor state, on hand-made answers (the page itself is tested in
tests/qa/chat/test_app.py and test_browser.py with the real engine)."""

import re
from dataclasses import replace

from index.documents import Document
from index.errors import UserError
from qa.answer import Answer, Citation
from qa.chat import render
from qa.chat.session import ChatSession, Turn
from qa.llm import LLMUnavailableError
from tests.qa.conftest import ARTICLE_TEXT, TranslatingEngine, a_citation, a_document, an_answer, page_with_answer

MEETING = "Vier <b>Minister</b> & Kim trafen sich am Montag."
MEETING_HTML = "Vier &lt;b&gt;Minister&lt;/b&gt; &amp; Kim trafen sich am Montag."
EVIDENCE_HTML = 'Vier <mark class="qa-evidence">&lt;b&gt;Minister&lt;/b&gt; &amp; Kim</mark> trafen sich am Montag.'


def _with_evidence(sentence: str, words: str, **changes) -> Citation:
    """A citation of ``sentence`` whose evidence is ``words``, at their offsets in the document."""
    start = ARTICLE_TEXT.index(sentence) + sentence.index(words)
    return a_citation(sentence, evidence_start=start, evidence_end=start + len(words), **changes)


def test_answer_links_its_markers_and_lists_citations_with_title_date_and_agency():
    html = render.answer_message(an_answer(), turn=3)
    assert '<a class="qa-cite qa-marker" href="#qa-cite-3-1">[1]</a>' in html
    assert '<a class="qa-cite qa-marker" href="#qa-cite-3-2">[2]</a>' in html
    assert "[7]" in html and "#qa-cite-3-7" not in html  # no such citation: left as text
    assert "*nicht* mit _ihm_" in html  # no Markdown
    assert "Titel &lt;i&gt;" in html and "2023-09-13 · dpa" in html
    assert "„Der Minister &lt;b&gt;sprach&lt;/b&gt; mit Kim.“" in html
    assert "<b>" not in html and "<i>" not in html
    assert html.index("#qa-cite-3-1") < html.index("Quellen") < html.index("Erster Satz hier.")


def test_english_answer_labels_the_quote_as_the_german_original():
    html = render.answer_message(an_answer("en"), turn=0)
    assert "Sources" in html and "German original:" in html
    assert "Original" not in render.answer_message(an_answer("de"), turn=0)


def test_abstention_looks_different_and_has_no_citations():
    answer = Answer(text="The articles don't say.", language="en", answerable=False)
    html = render.answer_message(answer, turn=0)
    assert 'class="qa-abstain"' in html and "No answer in the articles" in html
    assert "qa-citations" not in html and "qa-answer" not in html
    german = Answer(text="Dazu steht nichts in den Artikeln.", language="de", answerable=False)
    assert "Keine Antwort in den Artikeln" in render.answer_message(german, 0)


def test_unsupported_names_are_reported_and_notices_escape():
    assert "Not found in the cited sentences: Putin" in render.answer_message(an_answer("en", unsupported=["Putin"]), 0)
    notice = render.notice_message("the LLM server <x> failed")
    assert 'role="alert"' in notice and "&lt;x&gt;" in notice


def test_source_panel_marks_the_cited_sentence_at_its_offsets_and_the_others_lightly():
    panel = render.source_panel(an_answer(), 0, a_document())
    cited = re.search(r'<mark class="qa-cited" id="qa-cited">(.*?)</mark>', panel)
    assert cited and cited.group(1) == "Der Minister &lt;b&gt;sprach&lt;/b&gt; mit Kim."
    assert '<mark class="qa-also">Erster Satz hier.</mark>' in panel
    assert "Citation 1 of 2 · sentence 2" in panel and "2023-09-13 · dpa · doc.txt" in panel
    assert "/srv/corpus" not in panel  # the file name only
    assert "Dritter Satz &amp; Schluss." in panel and "Original sentence" not in panel
    second = render.source_panel(an_answer(), 1, a_document())
    assert '<mark class="qa-cited" id="qa-cited">Erster Satz hier.</mark>' in second


def test_the_source_panel_links_the_title_to_the_articles_address_where_it_is_a_web_address():
    def panel(url):
        answer = an_answer()
        answer = replace(answer, citations=[replace(answer.citations[0], url=url), *answer.citations[1:]])
        return render.source_panel(answer, 0, a_document())

    linked = panel("https://news.example.com/a?x=1&y=2")
    assert 'href="https://news.example.com/a?x=1&amp;y=2"' in linked and 'rel="noopener noreferrer"' in linked
    assert "Titel &lt;i&gt;</a>" in linked
    for unsafe in ("javascript:alert(1)", None):
        assert "qa-article-link" not in panel(unsafe)


def test_source_panel_shows_the_german_original_for_an_english_answer():
    panel = render.source_panel(an_answer("en"), 0, a_document())
    assert "Original sentence (German)" in panel
    assert '<blockquote lang="de">Der Minister &lt;b&gt;sprach&lt;/b&gt; mit Kim.</blockquote>' in panel


def test_source_panel_when_the_article_was_removed_or_changed():
    for document in (None, Document(doc_id="doc", title="T", source="s", text="Ganz anderer Text jetzt.")):
        panel = render.source_panel(an_answer(), 0, document)
        assert "removed or changed since the answer" in panel
        assert '<mark class="qa-cited" id="qa-cited">Der Minister &lt;b&gt;sprach&lt;/b&gt; mit Kim.</mark>' in panel


def test_anchor_round_trip_and_bad_anchors():
    assert render.parse_anchor(render.cite_anchor(4, 2)) == (4, 1)
    assert render.parse_anchor("qa-cite-4-2:1700000000") == (4, 1)
    for bad in ("", "qa-cite-4-0", "qa-cite-x-1", "javascript:alert(1)", None):
        assert render.parse_anchor(bad) is None


def test_session_history_messages_and_stepping():
    session = ChatSession()
    session.turns.append(Turn("Mit wem sprach er?", answer=an_answer()))
    session.turns.append(Turn("", notice="Type a question first."))
    session.turns.append(Turn("Und wann?", partial="Im Sept"))
    session.turns.append(Turn("Where?"))
    assert session.history() == [("Mit wem sprach er?", an_answer().text)]
    messages = session.messages()
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant", "user", "assistant", "user", "assistant"]
    assert "qa-notice" in messages[2]["content"] and "qa-streaming" in messages[4]["content"]
    assert "Searching the articles" in messages[6]["content"]
    assert not session.select(1, 0) and not session.select(0, 2) and session.selected is None
    assert session.select(0, 1) and session.selected == (0, 1)
    assert session.step(1) and session.selected == (0, 0)
    assert session.step(-1) and session.selected == (0, 1)


# Verdicts and evidence ---------------------------------------------------------------------------------


def test_evidence_span_is_marked_inside_the_quoted_sentence_and_everything_stays_escaped():
    citation = _with_evidence(MEETING, "<b>Minister</b> & Kim", verdict="states")
    assert citation.evidence == "<b>Minister</b> & Kim"
    answer = an_answer("en", citations=[citation])
    message = render.answer_message(answer, turn=0)
    assert f"„{EVIDENCE_HTML}“" in message
    panel = render.source_panel(answer, 0, a_document())
    assert f'<mark class="qa-cited" id="qa-cited">{EVIDENCE_HTML}</mark>' in panel
    assert f'<blockquote lang="de">{EVIDENCE_HTML}</blockquote>' in panel  # the German original, too
    assert message.count("qa-evidence") == 1 and panel.count("qa-evidence") == 2  # quote; original and article
    assert "<b>" not in message and "<b>" not in panel


def test_evidence_is_marked_in_the_sentence_of_a_removed_article_too():
    answer = an_answer(citations=[_with_evidence(MEETING, "am Montag")])
    panel = render.source_panel(answer, 0, None)
    assert '<mark class="qa-evidence">am Montag</mark>.</mark>' in panel


def test_evidence_offsets_outside_the_sentence_or_missing_are_ignored():
    start = ARTICLE_TEXT.index(MEETING)
    end = start + len(MEETING)
    for evidence_start, evidence_end in [
        (start - 5, start + 4),  # begins in the sentence before
        (end - 3, end + 2),  # runs past the sentence
        (start + 8, start + 4),  # backwards
        (start + 4, start + 4),  # empty
        (start + 4, start + 5),  # only a space
        (None, start + 4),
        (start + 4, None),
    ]:
        citation = a_citation(MEETING, evidence_start=evidence_start, evidence_end=evidence_end)
        answer = an_answer("en", citations=[citation])
        message = render.answer_message(answer, turn=0)
        panel = render.source_panel(answer, 0, a_document())
        for html in (message, panel):
            assert "qa-evidence" not in html, (evidence_start, evidence_end)
        assert f"„{MEETING_HTML}“" in message
        assert f'<mark class="qa-cited" id="qa-cited">{MEETING_HTML}</mark>' in panel


def test_evidence_of_a_citation_whose_offsets_disagree_with_its_sentence_is_ignored():
    """A sentence shorter than its offsets say: the evidence would fall outside the text shown."""
    start = ARTICLE_TEXT.index(MEETING)
    citation = replace(a_citation(MEETING, evidence_start=start + 12, evidence_end=start + 20), sentence=MEETING[:10])
    assert "qa-evidence" not in render.answer_message(an_answer(citations=[citation]), 0)


def test_only_a_related_citation_gets_the_badge_in_the_answers_language():
    related = a_citation("Erster Satz hier.", sentence_index=0, verdict="related")
    states = a_citation(MEETING, verdict="states")
    badges = {"en": "only related: does not state the answer", "de": "nur verwandt: nennt die Antwort nicht"}
    for language, badge in badges.items():
        answer = an_answer(language, citations=[states, related])
        message = render.answer_message(answer, turn=0)
        assert message.count(badge) == 1
        assert message.index(badge) > message.index("#qa-cite-0-2")  # on citation [2], the related one
        assert re.search(r'class="qa-verdict qa-related" title="[^"]+"', message)
        assert 'class="qa-verdict qa-states" title="' in message
        assert badge in render.source_panel(answer, 1, a_document())
        assert badge not in render.source_panel(answer, 0, a_document())
    unknown = an_answer(citations=[a_citation(MEETING, verdict="unchecked")])
    assert "qa-verdict" not in render.answer_message(unknown, 0)


def test_an_unverified_answer_is_marked_and_lists_the_claims_no_sentence_states():
    claims = ["Er kam am <Montag> & blieb."]
    heads = {"en": "Unverified: no cited sentence states this", "de": "Nicht belegt: kein zitierter Satz nennt das"}
    for language, head in heads.items():
        message = render.answer_message(an_answer(language, verified=False, unsupported_claims=claims), turn=0)
        assert message.startswith('<div class="qa-unverified"') and head in message
        assert "<li>Er kam am &lt;Montag&gt; &amp; blieb.</li>" in message
        assert "qa-citations" in message  # its sources are still listed
    verified = render.answer_message(an_answer("en"), turn=0)
    assert "qa-unverified" not in verified and "Unverified" not in verified and "qa-claims" not in verified


def test_an_abstention_says_a_draft_was_withheld_without_showing_it():
    draft = an_answer("en", text="He met <Putin> in secret [1].")
    abstention = Answer(text="The articles don't say.", language="en", answerable=False, withheld=draft)
    message = render.answer_message(abstention, turn=0)
    assert "qa-abstain" in message and "drafted but withheld" in message
    assert "Putin" not in message and "secret" not in message
    german = Answer(text="Dazu steht nichts in den Artikeln.", language="de", answerable=False, withheld=draft)
    assert "zurückgehalten" in render.answer_message(german, 0)
    assert "withheld" not in render.answer_message(Answer(text="x", language="en", answerable=False), 0)


# Machine translation in the source panel -----------------------------------------------------------------


def test_the_translate_button_is_offered_for_english_answers_only():
    assert "Show an English machine translation" in render.source_panel(an_answer("en"), 0, a_document())
    assert 'class="qa-translate"' not in render.source_panel(an_answer("de"), 0, a_document())


def test_a_translation_is_shown_labelled_under_the_german_original():
    panel = render.source_panel(an_answer("en"), 0, a_document(), translation="The minister <b>spoke</b> & Kim.")
    label = "Machine translation (by the language model) — the German original above is the citation."
    assert label in panel
    assert '<blockquote lang="en">The minister &lt;b&gt;spoke&lt;/b&gt; &amp; Kim.</blockquote>' in panel
    assert panel.index('<blockquote lang="de">') < panel.index(label)
    assert 'class="qa-translate"' not in panel
    problem = render.source_panel(an_answer("en"), 0, a_document(), translation_problem="The LLM <x> is down.")
    assert 'role="alert">The LLM &lt;x&gt; is down.</div>' in problem and 'class="qa-translate"' not in problem


def test_translate_asks_once_per_sentence_and_stepping_away_drops_the_display():
    engine = TranslatingEngine("The minister spoke with Kim.")
    page, session = page_with_answer(engine)
    returned, panel = page.translate(session)
    assert returned is session and "Machine translation (by the language model)" in panel
    assert "The minister spoke with Kim." in panel
    assert engine.asked == [("Der Minister <b>sprach</b> mit Kim.", "en")]
    _, _picker, other = page.step(session, 1)
    assert "Machine translation" not in other and 'class="qa-translate"' in other
    _, _picker, again = page.step(session, -1)
    assert "The minister spoke with Kim." in again  # from the session's cache
    page.translate(session)
    assert len(engine.asked) == 1
    assert ChatSession().translations == {}  # each visitor has their own


def test_translation_problems_are_one_sentence_in_the_panel():
    engine = TranslatingEngine(
        LLMUnavailableError("the LLM server at http://127.0.0.1:9/v1 cannot be reached; start it"),
        UserError("machine translation is offered into English (en) only"),
        RuntimeError("boom"),
        "It worked.",
    )
    page, session = page_with_answer(engine)
    _, panel = page.translate(session)
    assert "No machine translation now: the LLM server at http://127.0.0.1:9/v1 cannot be reached; start it." in panel
    _, panel = page.translate(session)
    assert "offered into English (en) only." in panel
    _, panel = page.translate(session)
    assert "The machine translation failed" in panel and "boom" not in panel and "Traceback" not in panel
    assert session.translations == {}  # nothing cached from a failure: the next click asks again
    _, panel = page.translate(session)
    assert "It worked." in panel and len(engine.asked) == 4


def test_translate_leaves_a_german_answer_and_an_empty_panel_alone():
    engine = TranslatingEngine()
    page, session = page_with_answer(engine, "de")
    _, panel = page.translate(session)
    assert "Machine translation" not in panel and engine.asked == []
    _, panel = page.translate(ChatSession())
    assert panel == render.empty_source()
