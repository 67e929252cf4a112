"""The quote an answer is written from: found verbatim in its sentence, grown over the answer's facts,
and the answer held to it; what a question asks for, and whether a quote can be that."""

import pytest

from index.retrieval import SentenceHit
from qa.answering.asked import asked_type, subject_found, type_mismatch
from qa.answering.quote import Quote, foreign_facts, locate, units, widen

SENTENCE = 'Der Hafen hat im April  1,2 Millionen Container "umgeschlagen", sagte Hafenchef Jens Meier.'


def hit(sentence: str, index: int = 0) -> SentenceHit:
    return SentenceHit("d", "Titel", "d.txt", index, sentence, 0, len(sentence), 0.9, 0.9, 1.0, vector_id="v")


def test_the_quote_is_found_in_the_form_the_prompt_showed_and_mapped_back_verbatim():
    offered = [hit("Kim kam."), hit(SENTENCE, 1)]
    # The prompt showed the sentence on one line, its double quotes as single ones.
    quote = locate("April 1,2 Millionen Container 'umgeschlagen'", offered, [2])
    assert quote is not None and quote.index == 1
    assert quote.text == 'April  1,2 Millionen Container "umgeschlagen"'
    assert SENTENCE[quote.start : quote.end] == quote.text
    assert locate("April 1,2 Millionen Container", offered, [1]) is None  # not in the sentence it names
    assert locate("Jens Meier", offered, [9, 2]) is not None  # a number not offered is passed over
    assert locate("", offered, [2]) is None


@pytest.mark.parametrize(
    "answer, quote, expected",
    [
        ("1.2 million containers.", "1,2 Millionen Container", []),
        ("About an hour.", "rund eine Stunde", []),
        ("One hour.", "rund eine Stunde", []),
        ("1.3 million containers.", "1,2 Millionen Container", ["1.3"]),
        ("7,000 dollars.", "7.000 Euro", ["USD"]),
        ("7.000 Euro.", "7.000 Euro", []),
        ("30 percent.", "30 Prozent", []),
        ("Hafenchef Meier.", "Hafenchef Jens Meier", []),
        ("Hafenchef Müller.", "Hafenchef Jens Meier", ["Müller"]),
        ("In April.", "1,2 Millionen Container", ["April"]),  # from the question: allowed
    ],
)
def test_the_answer_takes_its_numbers_units_and_names_from_the_quote(answer, quote, expected):
    question = "Wie viele Container wurden im April umgeschlagen?"
    if answer == "In April.":
        assert foreign_facts(answer, quote, question, SENTENCE, translated=True) == []
        assert foreign_facts(answer, quote, "Wie viele Container?", SENTENCE, translated=False) == expected
        return
    assert foreign_facts(answer, quote, question, SENTENCE, translated=answer[0] != "H") == expected


def test_a_translated_answer_may_name_what_the_sentence_names_beside_the_quote():
    assert foreign_facts("Jens Meier said so.", "sagte", "Who said it?", SENTENCE, translated=True) == []
    assert foreign_facts("Jens Meier sagte es.", "sagte", "Wer sagte es?", SENTENCE, translated=False) == [
        "Jens",
        "Meier",
    ]


def test_a_quote_grows_over_the_facts_its_sentence_holds_and_no_further():
    start = SENTENCE.index("Container")
    quote = Quote("Container", 0, start, start + len("Container"))
    grown, missing = widen(quote, SENTENCE, ["1.2", "April"])
    assert grown.text == "April  1,2 Millionen Container" and missing == []
    assert SENTENCE[grown.start : grown.end] == grown.text
    assert widen(quote, SENTENCE, ["5", "USD", "Meier"]) == (
        Quote('Container "umgeschlagen", sagte Hafenchef Jens Meier', 0, start, len(SENTENCE) - 1),
        ["5", "USD"],
    )
    # An empty quote grows over the facts alone: the evidence of an answer whose quote came from elsewhere.
    assert widen(Quote("", 0, 0, 0), SENTENCE, ["1.2"])[0].text == "1,2"
    assert widen(Quote("", 0, 0, 0), SENTENCE, ["7"]) == (Quote("", 0, 0, 0), ["7"])


def test_units_and_currencies_in_both_languages():
    assert units("7.000 € und 30 Prozent auf 12 Kilometern") == ["EUR", "percent", "km"]
    assert units("7,000 euros and 30 per cent over 12 kilometres") == ["EUR", "percent", "km"]
    assert units("5 Dollar, 3 Tonnen") == ["USD", "t"]
    assert units("Die Europäer") == []


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Wie viele Container wurden umgeschlagen?", "count"),
        ("How many containers were handled?", "count"),
        ("Wie viel Prozent der Stimmen erhielt die SPÖ?", "share"),
        ("What share of the vote did the SPÖ get?", "share"),
        ("Wann wurde die SPÖ gegründet?", "date"),
        ("In which year was North Korea founded?", "date"),
        ("Welche Farbe hat das Logo?", "colour"),
        ("What colour is the logo?", "colour"),
        ("Welcher Politiker trat zurück?", "person"),
        ("Which politician resigned?", "person"),
        ("Wie heißt der Hund?", "name"),
        ("Wer ist Jens Meier?", None),
        ("Why did he resign?", None),
    ],
)
def test_what_a_question_asks_for(question, kind):
    assert asked_type(question) == kind


@pytest.mark.parametrize(
    "kind, quote, answer, fits",
    [
        ("count", "1,2 Millionen Container", "1.2 million.", True),
        ("count", "Hafenchef Jens Meier", "Jens Meier.", False),
        ("count", "zwei Schiffe", "Two ships.", True),
        ("share", "30 Prozent", "30 percent.", True),
        ("share", "die Hälfte der Stimmen", "Half.", True),
        ("share", "1.200 Stimmen", "1,200 votes.", False),
        ("date", "am 4. Juni 2023", "On 4 June 2023.", True),
        ("date", "im Frühjahr", "In spring.", True),
        ("date", "in Wonsan", "In Wonsan.", False),
        ("colour", "in knallroten Jacken", "In bright red jackets.", True),
        ("colour", "in neuen Jacken", "In new jackets.", False),
        ("person", "Bürgermeister Michael Ludwig", "Michael Ludwig.", True),
        ("person", "die SPÖ", "Die SPÖ.", False),
        ("name", "heißt Bello", "Der Hund heißt Bello.", True),
        ("name", "einen neuen Namen", "It got a new name.", False),
        (None, "irgendwas", "Irgendwas.", True),
    ],
)
def test_whether_a_quote_and_an_answer_can_be_what_is_asked(kind, quote, answer, fits):
    assert (type_mismatch(kind, quote, answer) is None) == fits


def test_the_question_subject_is_looked_for_in_the_cited_context():
    context = "Hafen Hamburg. Der Hafen hat im April 1,2 Millionen Container umgeschlagen."
    assert subject_found("Wie viele Container wurden im April in Hamburg umgeschlagen?", context) == 1.0
    assert subject_found("Wie viele Container wurden im April in Bremen umgeschlagen?", context) == pytest.approx(
        2 / 3, abs=1e-3
    )
    assert subject_found("Wie viele Autos baute Tesla in Grünheide?", context) == 0.0
    assert subject_found("wie viele?", context) is None
