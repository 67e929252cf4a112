import pytest

from index.retrieval import SentenceHit
from qa.answering.citations import check, is_abstention
from qa.answering.generate import parse_reply

TEXT = (
    "Lawrow ist am Mittwoch in Pjöngjang eingetroffen. Der Minister traf Kim für rund eine Stunde. "
    "Nordkorea lieferte mehr als 1.000 Container."
)


def hit(sentence: str, index: int, doc_id: str = "003") -> SentenceHit:
    start = TEXT.index(sentence)
    return SentenceHit(
        doc_id,
        f"Titel {doc_id}",
        f"seeds/{doc_id}.txt",
        index,
        sentence,
        start,
        start + len(sentence),
        0.9,
        0.9,
        0.0,
        date="2023-10",
        publisher="dpa",
        vector_id=f"v{doc_id}{index}",
    )


ARRIVED = hit("Lawrow ist am Mittwoch in Pjöngjang eingetroffen.", 0)
MET = hit("Der Minister traf Kim für rund eine Stunde.", 1)
CONTAINERS = hit("Nordkorea lieferte mehr als 1.000 Container.", 2, "002")
OFFERED = [ARRIVED, MET, CONTAINERS]


def test_reply_json_and_inline_markers_are_both_read():
    reply = parse_reply('{"answer": "Er traf Kim [2].", "sources": [2, "3"]}')
    assert reply.well_formed and reply.text == "Er traf Kim." and reply.cited == [2, 3]


def test_reply_that_is_not_json_is_read_as_text_with_markers():
    reply = parse_reply("Lawrow traf Kim [2] und lieferte [1, 3].")
    assert not reply.well_formed
    assert reply.text == "Lawrow traf Kim und lieferte." and reply.cited == [2, 1, 3]


@pytest.mark.parametrize(
    "text",
    [
        "Dazu steht nichts in den Artikeln.",
        "The articles don't say.",
        "The articles don’t say that.",
        "",
        "Es wurde nicht genannt, wie lange Lawrow und Kim zusammen waren.",
        "The duration of the meeting is not stated.",
    ],
)
def test_abstention_phrases(text):
    assert is_abstention(text)


@pytest.mark.parametrize("text", ["Lawrow sagte zunächst nichts zu Waffenlieferungen.", "Lavrov did not say."])
def test_answers_about_silence_are_not_abstentions(text):
    assert not is_abstention(text)


def test_invented_ids_are_dropped_and_citations_renumbered_from_one():
    reply = parse_reply('{"answer": "Der Minister traf Kim für rund eine Stunde.", "sources": [9, 2]}')
    checked = check(reply, OFFERED, [0.80, 0.93, 0.78], min_support=0.8)
    assert not checked.abstained
    assert checked.text == "Der Minister traf Kim für rund eine Stunde [1]."
    assert [c.sentence for c in checked.citations] == [MET.sentence]
    assert any("[9]" in note for note in checked.notes)


def test_citation_is_verbatim_source_text_with_its_offsets():
    checked = check(parse_reply('{"answer": "Kim, eine Stunde.", "sources": [2]}'), OFFERED, [0.8, 0.9, 0.8], 0.8)
    (citation,) = checked.citations
    assert TEXT[citation.start : citation.end] == citation.sentence == MET.sentence
    assert (citation.doc_id, citation.sentence_index, citation.date) == ("003", 1, "2023-10")


def test_no_valid_citation_reattaches_the_best_supporting_sentence():
    checked = check(parse_reply('{"answer": "Er blieb eine Stunde.", "sources": []}'), OFFERED, [0.7, 0.88, 0.6], 0.8)
    assert [c.sentence for c in checked.citations] == [MET.sentence]
    assert checked.text.endswith("[1].")
    assert any("re-attached" in note for note in checked.notes)


def test_no_valid_citation_and_no_support_abstains_without_citations():
    checked = check(parse_reply('{"answer": "Es regnete.", "sources": [7]}'), OFFERED, [0.7, 0.72, 0.6], 0.8)
    assert checked.abstained and checked.citations == [] and checked.text == ""


def test_model_abstention_has_no_citations():
    reply = parse_reply('{"answer": "Dazu steht nichts in den Artikeln.", "sources": [1]}')
    checked = check(reply, OFFERED, [0.9, 0.9, 0.9], 0.8)
    assert checked.abstained and checked.citations == []


def test_numbers_match_in_any_format():
    good = check(parse_reply('{"answer": "More than 1,000 containers.", "sources": [3]}'), OFFERED, [0, 0, 0.9], 0.8)
    assert not good.abstained and good.unsupported == [] and good.citations[0].score == 0.9


def test_a_number_no_offered_sentence_holds_is_invented_and_abstains():
    bad = check(parse_reply('{"answer": "More than 5,000 containers.", "sources": [3]}'), OFFERED, [0, 0, 0.9], 0.8)
    assert bad.abstained and bad.citations == []
    assert any("5000" in note for note in bad.notes)


def test_a_missing_name_lowers_support_and_is_reported():
    reply = parse_reply('{"answer": "Nordkorea lieferte Putin mehr als 1.000 Container.", "sources": [3]}')
    checked = check(reply, OFFERED, [0, 0, 0.9], 0.8)
    assert not checked.abstained and checked.unsupported == ["Putin"]
    assert checked.citations[0].score < 0.9
    assert any("Putin" in note for note in checked.notes)


def test_terms_from_the_question_need_no_source():
    reply = parse_reply('{"answer": "Lawrow traf Kim eine Stunde.", "sources": [2]}')
    checked = check(reply, OFFERED, [0.8, 0.9, 0.7], 0.8, question="Wie lange traf Lawrow Kim?")
    assert checked.unsupported == [] and len(checked.citations) == 1


def test_answer_spanning_two_sentences_gets_both_and_markers_follow_first_appearance():
    reply = parse_reply('{"answer": "Lawrow kam am Mittwoch an. Der Minister traf Kim eine Stunde.", "sources": [2]}')
    checked = check(reply, OFFERED, [0.85, 0.9, 0.6], 0.8)
    assert checked.text == "Lawrow kam am Mittwoch an [1]. Der Minister traf Kim eine Stunde [2]."
    assert [c.sentence for c in checked.citations] == [ARRIVED.sentence, MET.sentence]
    assert any("added [1]" in note for note in checked.notes)


def test_a_cited_neighbour_without_the_answer_gives_way_to_the_sentence_that_holds_it():
    reply = parse_reply('{"answer": "Mehr als 1.000 Container.", "sources": [1]}')
    checked = check(reply, OFFERED, [0.83, 0.80, 0.84], 0.8)
    assert [c.sentence for c in checked.citations] == [CONTAINERS.sentence]
    assert any("dropped [1]" in note for note in checked.notes)
    # A cited sentence that supports the answer better than the one holding its terms stays.
    kept = check(reply, OFFERED, [0.86, 0.80, 0.84], 0.8)
    assert [c.sentence for c in kept.citations] == [ARRIVED.sentence, CONTAINERS.sentence]


def test_the_clearly_best_supporting_sentence_is_cited_too():
    reply = parse_reply('{"answer": "So war es wohl.", "sources": [1]}')
    checked = check(reply, OFFERED, [0.82, 0.91, 0.7], 0.8)
    assert [c.sentence for c in checked.citations] == [MET.sentence]
    assert any("supports the answer best" in note for note in checked.notes)
    assert any("dropped [1]: it supports the answer much less" in note for note in checked.notes)


def test_restating_the_question_or_a_missing_asked_number_abstains():
    restated = check(
        parse_reply('{"answer": "Lawrow traf Kim.", "sources": [2]}'), OFFERED, [0.9] * 3, 0.8, "Wann traf Lawrow Kim?"
    )
    assert restated.abstained and "restates" in restated.notes[0]
    count = check(
        parse_reply('{"answer": "Ladung aus Nordkorea.", "sources": [3]}'),
        OFFERED,
        [0.9] * 3,
        0.8,
        "Wie viele Container?",
    )
    assert count.abstained and "how many" in count.notes[0]
    asked = check(
        parse_reply('{"answer": "Wer traf Kim in Pjöngjang?", "sources": [2]}'),
        OFFERED,
        [0.9] * 3,
        0.8,
        "Wie lange traf Lawrow Kim?",
    )
    assert asked.abstained and "asks one" in asked.notes[0]
    hour = parse_reply('{"answer": "Rund eine Stunde.", "sources": [2]}')
    answered = check(hour, OFFERED, [0.9] * 3, 0.8, "Wie lange?")
    assert not answered.abstained
