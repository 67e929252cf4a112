"""Claim verification without the model: terms, the confidence it combines, verdicts and evidence
spans. The judge's probability is given; tests/qa/answering/test_chain_real_model.py asks the real model."""

import numpy as np
import pytest

from qa.answer import Citation
from qa.answering.verify import claim_terms, clause_span, question_found, split_claims, term_span, verify

FLOWERS = (
    "Lawrow war am Mittwoch von Hunderten Nordkoreanern mit Blumen in den Händen winkend begrüßt worden, "
    "wie Bilder des Staatsfernsehens zeigten."
)
CONTAINERS = "Der Hamburger Hafen hat im April 1,2 Millionen Container umgeschlagen."
PREFIX = "Vorspann. "


def citation(sentence: str) -> Citation:
    start = len(PREFIX)
    return Citation("doc", "Titel", "doc.txt", 3, sentence, start, start + len(sentence), 0.9)


def document(sentence: str) -> str:
    return PREFIX + sentence


def test_claims_are_the_answer_sentences_and_their_parts():
    assert split_claims("Rund eine Stunde. Danach reiste er ab; er flog nach Moskau.") == [
        "Rund eine Stunde.",
        "Danach reiste er ab",
        "er flog nach Moskau.",
    ]


def test_terms_leave_out_what_the_question_gives():
    question = "Wer begrüßte Lawrow in Pjöngjang?"
    # "Hunderten" is a number in words (100), which "hundreds" in an English answer matches too.
    assert claim_terms("Lawrow wurde in Pjöngjang von Hunderten Nordkoreanern begrüßt.", question, "de") == [
        "100",
        "Nordkoreanern",
    ]
    # English answers are held to their numbers and names: their words are not the sources' words.
    assert claim_terms("He was greeted by hundreds of North Koreans in 2024.", question, "en") == [
        "2024",
        "100",
        "North",
        "Koreans",
    ]


def test_a_stated_german_answer_is_verified_with_the_evidence_span():
    result = verify(
        "Er wurde mit Blumen begrüßt.",
        "Wie wurde Lawrow begrüßt?",
        "de",
        [citation(FLOWERS)],
        0.5,
        judge=0.9,
    )
    assert result.stated and result.confidence == pytest.approx(0.9)
    (checked,) = result.citations
    assert checked.verdict == "states"
    assert document(FLOWERS)[checked.evidence_start : checked.evidence_end] == checked.evidence == "Blumen"


def test_an_invented_noun_is_not_stated_whatever_the_judge_says():
    result = verify(
        "Er wurde mit einer Militärparade begrüßt.",
        "Wie wurde Lawrow begrüßt?",
        "de",
        [citation(FLOWERS)],
        0.5,
        judge=0.99,
    )
    assert not result.stated
    assert result.claims[0].missing == ["Militärparade"]
    assert result.unsupported_claims == ["Er wurde mit einer Militärparade begrüßt."]
    assert result.citations[0].verdict == "related"


def test_numbers_are_compared_as_values_and_number_words_count():
    question = "Wie viele Container wurden im April umgeschlagen?"
    for answer in ("Es waren 1.2 Millionen.", "Es waren 1,2 Millionen."):
        assert verify(answer, question, "de", [citation(CONTAINERS)], 0.5, judge=0.8).stated
    wrong = verify("Es waren 2,1 Millionen.", question, "de", [citation(CONTAINERS)], 0.5, judge=0.8)
    assert not wrong.stated and wrong.claims[0].missing == ["2.1"]
    week = "Die Reise soll sechs Tage dauern."
    assert verify("Sie ist sechstägig.", "Wie lange dauert die Reise?", "de", [citation(week)], 0.5, judge=1).stated


def test_a_missing_verb_lowers_the_confidence_but_does_not_refuse_alone():
    result = verify(
        "Sie haben sich in Wonsan getroffen.",
        "Wo traf Lawrow Choe?",
        "de",
        [citation("Lawrow sagte nach einem Treffen mit Choe in Wonsan, die Gespräche seien gut gewesen.")],
        0.4,
        judge=0.9,
    )
    assert result.claims[0].missing == ["getroffen"]
    assert result.confidence == pytest.approx(0.45)
    assert result.stated


def test_the_confidence_falls_with_the_judge_and_the_other_signals_are_recorded():
    args = ("Er wurde mit Blumen begrüßt.", "Wie wurde Lawrow begrüßt?", "de", [citation(FLOWERS)], 0.5)
    assert verify(*args, judge=0.3).confidence == pytest.approx(0.3)
    assert not verify(*args, judge=0.3).stated
    doubted = verify(*args, judge=0.9, doubt=0.5, logprobs=[-0.1, -0.5])
    assert doubted.confidence == pytest.approx(0.9) and doubted.stated
    assert doubted.signals == {
        "terms": 1.0,
        "terms_found": 1.0,
        "facts_missing": 0.0,
        "judge": 0.9,
        "doubt": 0.5,
        "logprob_mean": -0.3,
        "logprob_min": -0.5,
    }


def test_the_judge_is_not_asked_where_the_terms_already_decide():
    asked = []

    def judge():
        asked.append(1)
        return 0.99

    question = "Wie wurde Lawrow begrüßt?"
    invented = verify("Mit einer Militärparade.", question, "de", [citation(FLOWERS)], 0.5, judge=judge)
    assert asked == [] and not invented.stated and invented.confidence == 0.0
    stated = verify("Mit Blumen.", question, "de", [citation(FLOWERS)], 0.5, judge=judge)
    assert asked == [1] and stated.stated and stated.confidence == pytest.approx(0.99)


def test_without_a_judge_the_terms_decide():
    assert verify("Mit Blumen.", "Wie wurde Lawrow begrüßt?", "de", [citation(FLOWERS)], 0.5).stated
    assert not verify("Mit Panzern.", "Wie wurde Lawrow begrüßt?", "de", [citation(FLOWERS)], 0.5).stated


def test_an_english_paraphrase_gets_the_most_similar_clause_as_evidence():
    def embed(claim, passages):
        # The second clause is "most similar": a stand-in for the embedding model.
        vectors = np.eye(len(passages) + 1, dtype=np.float32)
        vectors[0, 2] = 1.0
        return vectors

    result = verify(
        "He was waved at by crowds.",
        "How was Lavrov greeted?",
        "en",
        [citation(FLOWERS)],
        0.5,
        judge=0.8,
        embed=embed,
    )
    (checked,) = result.citations
    assert checked.verdict == "states"
    assert checked.evidence == "wie Bilder des Staatsfernsehens zeigten"
    assert checked.start <= checked.evidence_start < checked.evidence_end <= checked.end


def test_spans_lie_inside_the_sentence_and_cover_the_terms():
    assert term_span(FLOWERS, ["Blumen", "Hunderten"]) == (
        FLOWERS.index("Hunderten"),
        FLOWERS.index("Blumen") + len("Blumen"),
    )
    assert term_span(FLOWERS, ["Panzer"]) is None
    assert term_span(CONTAINERS, ["1.2"]) == (CONTAINERS.index("1,2"), CONTAINERS.index("1,2") + 3)
    start, end = clause_span(FLOWERS, "anything", None)
    assert (start, end) == (0, len(FLOWERS) - 1)  # the whole sentence without its full stop


def test_an_article_that_never_names_what_is_asked_scores_low():
    asked = "Wann wurde die Harvard University gegründet?"
    assert question_found(asked, ["Yale wurde 1701 gegründet. Die Universität ist privat."]) == 0.5
    assert question_found("Who greeted Lavrov in Pyongyang?", ["Lawrow kam in Pjöngjang an."]) == 1.0
    # The articles' whole texts are not read while verifying: the signal is computed where they are
    # given (for a calibrator that weighs it, and by qa eval), from the cited articles.
    from qa.answering.calibration import article_signals

    cited = [citation(FLOWERS)]
    assert "question_found" not in verify("Mit Blumen.", "Wie wurde Lawrow begrüßt?", "de", cited, 0.5).signals
    article = {"doc": "Titel\n" + document(FLOWERS)}.get
    found = article_signals("Wie wurde Lawrow begrüßt?", "Wie wurde Lawrow begrüßt?", cited, 0, article)
    assert found["question_found"] == 1.0
    elsewhere = {"doc": "Titel\nYale wurde 1701 gegründet. Die Universität ist privat."}.get
    assert article_signals(asked, asked, cited, 0, elsewhere)["question_found"] == 0.5
