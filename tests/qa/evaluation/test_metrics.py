import pytest

from qa.evaluation.metrics import (
    answer_correct,
    citation_precision,
    cited_document_precision,
    cited_document_recall,
    compute_metrics,
    gold_cited,
    normalise,
    percentile,
    question_metrics,
    retrieval_hit,
    risk_coverage,
    summarise,
    token_f1,
)
from qa.evaluation.pairs import pair_summary

GOLD = "Nordkorea lieferte mehr als 1.000 Container."
OTHER = "Der Minister traf Kim für rund eine Stunde."
ARRIVAL = "Lawrow ist am Mittwoch in Pjöngjang eingetroffen."


def sentence(text: str, index: int, doc_id: str = "a") -> dict:
    return {"doc_id": doc_id, "title": f"Titel {doc_id}", "sentence_index": index, "sentence": text}


def gold(text: str = GOLD, doc: str = "a") -> dict:
    return {"doc": doc, "sentence": text}


def expected(answerable: bool = True, language: str = "de") -> dict:
    if not answerable:
        return {"id": "de-40", "question": "?", "language": language, "answers": [], "gold": [], "answerable": False}
    return {
        "id": "de-08",
        "question": "?",
        "language": language,
        "answers": ["1000"],
        "gold": [gold()],
        "answerable": True,
    }


def prediction(answer: str, answerable: bool = True, citations=(), retrieved=(), language: str = "de") -> dict:
    return {
        "answer": answer,
        "answerable": answerable,
        "language": language,
        "citations": list(citations),
        "retrieved": list(retrieved),
        "latency_s": 1.0,
        "first_token_s": 0.1,
    }


# normalise, answer_correct, gold_cited and percentile keep their behaviour.


@pytest.mark.parametrize("text", ["1.000", "1,000", "1000"])
def test_thousands_separators_are_dropped(text):
    assert normalise(text) == "1000"


def test_decimal_comma_becomes_point_and_punctuation_space():
    assert normalise("3,5 Prozent!") == "3.5 prozent"
    assert normalise("Amir-Abdollahian") == "amir abdollahian"
    assert normalise("Straße") == "strasse"


def test_answer_correct_matches_whole_words_across_number_formats():
    assert answer_correct("Mehr als 1.000 Container", ["1000"])
    assert answer_correct("Es waren 3,5 Prozent.", ["3.5 Prozent"])
    assert not answer_correct("10000 Container", ["1000"])
    assert not answer_correct("anything", [])
    assert not answer_correct("anything", [""])


def test_gold_cited_ignores_whitespace_but_not_the_document():
    assert gold_cited([("a", f"  {GOLD}\n")], [("a", GOLD)])
    assert not gold_cited([("b", GOLD)], [("a", GOLD)])
    assert not gold_cited([], [("a", GOLD)])


def test_percentile_interpolates_and_is_zero_without_values():
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) == 0.0


# token_f1


def test_token_f1_takes_the_best_alias():
    assert token_f1("Hossein Amir-Abdollahian", ["Abdollahian", "Amir Abdollahian"]) == pytest.approx(0.8)
    assert token_f1("Amir-Abdollahian", ["amir abdollahian"]) == 1.0


def test_token_f1_counts_repeated_tokens_once_per_occurrence():
    assert token_f1("ja ja", ["ja"]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("answer", "alias"), [("1.000 Container", "1000 Container"), ("3,5", "3.5"), ("1,000", "1.000")]
)
def test_token_f1_equates_number_formats(answer, alias):
    assert token_f1(answer, [alias]) == 1.0


@pytest.mark.parametrize(("answer", "aliases"), [("Schahed", []), ("", ["Schahed"]), (None, ["Schahed"]), ("!", ["x"])])
def test_token_f1_is_zero_without_aliases_or_answer(answer, aliases):
    assert token_f1(answer, aliases) == 0.0


def test_token_f1_is_zero_without_overlap_and_skips_empty_aliases():
    assert token_f1("Shahed-Drohnen", ["Lancet", "", "..."]) == 0.0


# citation_precision


@pytest.mark.parametrize("citations", [[], None])
def test_citation_precision_is_none_without_citations(citations):
    assert citation_precision(citations, [gold()], ["1000"]) is None


def test_citation_precision_accepts_gold_or_alias_sentences():
    citations = [sentence(f" {GOLD}  ", 2), sentence(OTHER, 1), sentence(ARRIVAL, 0, "b")]
    assert citation_precision(citations, [gold()], ["Pjöngjang"]) == pytest.approx(2 / 3)


def test_citation_precision_counts_a_repeated_citation_once():
    citations = [sentence(GOLD, 2), sentence(GOLD, 2), sentence(OTHER, 1)]
    assert citation_precision(citations, [gold()], []) == 0.5


def test_citation_precision_without_index_deduplicates_by_text():
    citations = [{"doc_id": "a", "sentence": GOLD}, {"doc_id": "a", "sentence": f"{GOLD} "}, {"doc_id": "a"}]
    assert citation_precision(citations, [gold()], None) == 0.5


def test_citation_precision_needs_the_gold_document():
    assert citation_precision([sentence(GOLD, 2, "b")], [gold()], []) == 0.0


def test_citation_precision_of_an_unanswerable_question_is_zero():
    assert citation_precision([sentence(GOLD, 2)], [], []) == 0.0


# cited documents


def test_cited_document_precision():
    assert cited_document_precision(["a", "a", "b"], ["a"]) == 0.5
    assert cited_document_precision(["a"], []) == 0.0
    assert cited_document_precision([None, "a"], ["a"]) == 1.0
    assert cited_document_precision([], ["a"]) is None
    assert cited_document_precision(None, None) is None


def test_cited_document_recall():
    assert cited_document_recall(["a", "a"], ["a", "c"]) == 0.5
    assert cited_document_recall([], ["a", "a"]) == 0.0
    assert cited_document_recall(None, ["a"]) == 0.0
    assert cited_document_recall(["a"], []) is None
    assert cited_document_recall(["a"], None) is None


# retrieval_hit

RANKED = [sentence(OTHER, 1), sentence(ARRIVAL, 0, "b"), sentence(f"{GOLD}\n", 2)]


@pytest.mark.parametrize(("k", "hit"), [(1, False), (2, False), (3, True), (10, True)])
def test_retrieval_hit_looks_at_the_first_k(k, hit):
    assert retrieval_hit(RANKED, [gold()], k) is hit


def test_retrieval_hit_is_none_without_gold_and_false_without_retrieval():
    assert retrieval_hit(RANKED, [], 3) is None
    assert retrieval_hit(RANKED, None, 3) is None
    assert retrieval_hit(None, [gold()], 3) is False
    assert retrieval_hit([], [gold()], 3) is False


def test_retrieval_hit_rejects_non_positive_k():
    with pytest.raises(ValueError):
        retrieval_hit(RANKED, [gold()], 0)


# question_metrics

KEYS = (
    "correct token_f1 gold_cited correct_and_gold_cited citation_precision cited_doc_precision cited_doc_recall "
    "abstained abstention_correct false_abstention language_match answered wrong_with_citation "
    "wrong_sentence_cited gold_cited_misread unanswerable_answered answered_right "
    "retrieval_recall@1 retrieval_recall@3 retrieval_recall@5 retrieval_recall@10"
).split()


def test_correct_answer_citing_gold():
    predicted = prediction("Mehr als 1.000 Container [1].", citations=[sentence(GOLD, 2)], retrieved=RANKED)
    metrics = question_metrics(predicted, expected())
    assert list(metrics) == KEYS
    assert metrics == {
        "correct": True,
        "token_f1": pytest.approx(1 / 3),
        "gold_cited": True,
        "correct_and_gold_cited": True,
        "citation_precision": 1.0,
        "cited_doc_precision": 1.0,
        "cited_doc_recall": 1.0,
        "abstained": False,
        "abstention_correct": None,
        "false_abstention": False,
        "language_match": True,
        "answered": True,
        "wrong_with_citation": False,
        "wrong_sentence_cited": False,
        "gold_cited_misread": False,
        "unanswerable_answered": False,
        "answered_right": True,
        "retrieval_recall@1": False,
        "retrieval_recall@3": True,
        "retrieval_recall@5": True,
        "retrieval_recall@10": True,
    }


def test_correct_answer_citing_another_sentence():
    predicted = prediction("1,000", citations=[sentence(OTHER, 1), sentence(ARRIVAL, 0, "b")], language="en")
    metrics = question_metrics(predicted, expected())
    assert metrics["correct"] is True
    assert metrics["token_f1"] == 1.0
    assert metrics["gold_cited"] is False
    assert metrics["correct_and_gold_cited"] is False
    assert metrics["citation_precision"] == 0.0
    assert metrics["cited_doc_precision"] == 0.5
    assert metrics["cited_doc_recall"] == 1.0
    assert metrics["language_match"] is False
    assert metrics["retrieval_recall@10"] is False
    # Right, but the citation does not show where it comes from: not a wrong cited answer, not precise either.
    assert metrics["answered"] is True
    assert metrics["wrong_with_citation"] is False
    assert metrics["answered_right"] is False


def test_abstaining_on_an_answerable_question():
    predicted = prediction("Dazu steht nichts in den Artikeln: 1000.", answerable=False, retrieved=RANKED)
    metrics = question_metrics(predicted, expected())
    assert metrics == {
        "correct": False,
        "token_f1": 0.0,
        "gold_cited": False,
        "correct_and_gold_cited": False,
        "citation_precision": None,
        "cited_doc_precision": None,
        "cited_doc_recall": 0.0,
        "abstained": True,
        "abstention_correct": None,
        "false_abstention": True,
        "language_match": True,
        "answered": False,
        "wrong_with_citation": False,
        "wrong_sentence_cited": False,
        "gold_cited_misread": False,
        "unanswerable_answered": False,
        "answered_right": None,
        "retrieval_recall@1": False,
        "retrieval_recall@3": True,
        "retrieval_recall@5": True,
        "retrieval_recall@10": True,
    }


def test_abstaining_on_an_unanswerable_question():
    metrics = question_metrics(prediction("Dazu steht nichts.", answerable=False), expected(answerable=False))
    assert metrics == dict.fromkeys(KEYS) | {
        "abstained": True,
        "abstention_correct": True,
        "language_match": True,
        "wrong_with_citation": False,
        "wrong_sentence_cited": False,
        "gold_cited_misread": False,
        "unanswerable_answered": False,
    }


def test_answering_an_unanswerable_question():
    predicted = prediction("1000", citations=[sentence(GOLD, 2)], language="en")
    metrics = question_metrics(predicted, expected(answerable=False, language="en"))
    assert metrics == dict.fromkeys(KEYS) | {
        "citation_precision": 0.0,
        "cited_doc_precision": 0.0,
        "abstained": False,
        "abstention_correct": False,
        "language_match": True,
        "wrong_with_citation": True,
        "wrong_sentence_cited": False,
        "gold_cited_misread": False,
        "unanswerable_answered": True,
        "answered_right": False,
    }


def test_missing_and_none_prediction_fields():
    predicted = {"answer": None, "citations": None, "retrieved": None, "language": None}
    metrics = question_metrics(predicted, expected(), ks=(2,))
    missed = question_metrics(prediction("", answerable=False), expected(), ks=())
    assert metrics == missed | {
        "abstained": False,
        "false_abstention": False,
        "language_match": None,
        "answered": True,
        "answered_right": False,
        "retrieval_recall@2": False,
    }


def test_language_match_ignores_case_and_spaces():
    assert question_metrics(prediction("1000", language=" DE"), expected())["language_match"] is True


def test_an_answer_whose_language_cannot_be_told_neither_matches_nor_fails():
    unknown = prediction("Wonsan.", language=None)
    assert question_metrics(unknown, expected())["language_match"] is None
    assert question_metrics(prediction("Wonsan.", language="en"), expected())["language_match"] is False


# summarise


def metrics(**values) -> dict:
    return dict.fromkeys(KEYS[:11]) | values


# Per-question values in the order correct, token_f1, gold_cited, correct_and_gold_cited, citation_precision,
# cited_doc_precision, cited_doc_recall, abstained, abstention_correct, false_abstention, language_match, then
# retrieval recall at 1 and 3.
ROW_KEYS = [*KEYS[:11], "retrieval_recall@1", "retrieval_recall@3"]
TRUST_KEYS = ["answered", "wrong_with_citation", "answered_right"]
CAUSES = {"wrong_sentence_cited": False, "gold_cited_misread": False, "unanswerable_answered": False}
ANSWERED = (
    dict(zip(ROW_KEYS, [True, 1.0, True, True, 1.0, 1.0, 1.0, False, None, False, True, True, True], strict=True))
    | dict(zip(TRUST_KEYS, [True, False, True], strict=True))
    | CAUSES
)
ABSTAINED = (
    dict(zip(ROW_KEYS, [False, 0.0, False, False, None, None, 0.0, True, None, True, False, False, True], strict=True))
    | dict(zip(TRUST_KEYS, [False, False, None], strict=True))
    | CAUSES
)
UNANSWERABLE = (
    dict(zip(ROW_KEYS, [None] * 7 + [True, True, None, True, None, None], strict=True))
    | dict(zip(TRUST_KEYS, [None, False, None], strict=True))
    | CAUSES
)
ROWS = [
    {"language": "de", "articles": ["a"], "metrics": ANSWERED, "latency_s": 2.0, "first_token_s": 0.5},
    {"language": "en", "articles": ["a", "b"], "metrics": ABSTAINED, "latency_s": 4.0, "first_token_s": 1.0},
    {"language": "en", "articles": [], "metrics": UNANSWERABLE, "latency_s": 1.0, "first_token_s": 0.25},
]
SUMMARY_KEYS = (
    "questions answerable unanswerable accuracy token_f1 gold_sentence_recall correct_and_gold_cited "
    "wrong_with_citation wrong_sentence_cited gold_cited_misread unanswerable_answered answered_precision coverage "
    "citation_precision cited_doc_precision cited_doc_recall abstention_accuracy false_abstention_rate "
    "language_match retrieval_recall@1 retrieval_recall@3 latency_p50 latency_p95 first_token_p50 first_token_p95"
).split()


def test_summarise_averages_only_applicable_values():
    summary = summarise(ROWS)
    assert list(summary) == SUMMARY_KEYS
    assert summary == {
        "questions": 3,
        "answerable": 2,
        "unanswerable": 1,
        "accuracy": 0.5,
        "token_f1": 0.5,
        "gold_sentence_recall": 0.5,
        "correct_and_gold_cited": 0.5,
        "wrong_with_citation": 0.0,
        "wrong_sentence_cited": 0.0,
        "gold_cited_misread": 0.0,
        "unanswerable_answered": 0.0,
        "answered_precision": 1.0,
        "coverage": 0.5,
        "citation_precision": 1.0,
        "cited_doc_precision": 1.0,
        "cited_doc_recall": 0.5,
        "abstention_accuracy": 1.0,
        "false_abstention_rate": 0.5,
        "language_match": 0.6667,
        "retrieval_recall@1": 0.5,
        "retrieval_recall@3": 1.0,
        "latency_p50": 2.0,
        "latency_p95": 3.8,
        "first_token_p50": 0.5,
        "first_token_p95": 0.95,
    }


def test_summarise_of_an_empty_group():
    summary = summarise([])
    assert summary == dict.fromkeys(SUMMARY_KEYS[3:19] + SUMMARY_KEYS[21:]) | {
        "questions": 0,
        "answerable": 0,
        "unanswerable": 0,
    }


def test_summarise_rounds_and_skips_missing_latencies():
    rows = [
        {"language": "de", "articles": ["a"], "metrics": metrics(token_f1=1 / 3), "latency_s": 1.23456},
        {"language": "de", "articles": ["a"], "metrics": metrics(), "latency_s": None, "first_token_s": None},
    ]
    summary = summarise(rows)
    assert summary["token_f1"] == 0.3333
    assert summary["accuracy"] is None
    assert summary["latency_p50"] == 1.235
    assert summary["first_token_p50"] is None
    assert summary["first_token_p95"] is None


def test_summarise_orders_retrieval_cut_offs_numerically():
    rows = [
        {"language": "de", "articles": [], "metrics": {"retrieval_recall@10": True}, "latency_s": 1.0},
        {"language": "de", "articles": [], "metrics": {"retrieval_recall@2": False}, "latency_s": 1.0},
    ]
    summary = summarise(rows)
    assert [key for key in summary if key.startswith("retrieval")] == ["retrieval_recall@2", "retrieval_recall@10"]
    assert summary["retrieval_recall@10"] == 1.0
    assert summary["retrieval_recall@2"] == 0.0


# compute_metrics


def test_compute_metrics_groups_by_language_and_article():
    result = compute_metrics(ROWS)
    assert list(result) == ["overall", "by_language", "by_article", "language_pairs", "risk_coverage"]
    assert result["overall"] == summarise(ROWS)
    assert list(result["by_language"]) == ["de", "en"]
    assert result["by_language"]["de"] == summarise(ROWS[:1])
    assert result["by_language"]["en"] == summarise(ROWS[1:])
    assert list(result["by_article"]) == ["(no article)", "a", "b"]
    assert result["by_article"]["a"] == summarise(ROWS[:2])
    assert result["by_article"]["b"]["questions"] == 1
    assert result["by_article"]["b"]["false_abstention_rate"] == 1.0
    assert result["by_article"]["(no article)"]["unanswerable"] == 1
    assert result["by_article"]["(no article)"]["accuracy"] is None
    # Rows from before the verifier have no drafts: nothing is kept at the only threshold.
    nothing_kept = {"threshold": 0.0, "wrong_with_citation": 0.0, "answered_precision": None, "answered": 0}
    assert result["risk_coverage"] == {
        "all": [nothing_kept | {"coverage": 0.0}],
        "de": [nothing_kept | {"coverage": 0.0}],
        "en": [nothing_kept | {"coverage": 0.0}],
    }


def test_compute_metrics_counts_a_repeated_article_once_and_names_missing_language():
    rows = [{"language": None, "articles": ["a", "a"], "metrics": ANSWERED, "latency_s": 1.0, "first_token_s": 0.1}]
    result = compute_metrics(rows)
    assert list(result["by_language"]) == ["(no language)"]
    assert result["by_article"]["a"]["questions"] == 1


def test_compute_metrics_of_no_rows():
    empty = {"threshold": 0.0, "coverage": None, "wrong_with_citation": None, "answered_precision": None}
    assert compute_metrics([]) == {
        "overall": summarise([]),
        "by_language": {},
        "by_article": {},
        "language_pairs": pair_summary([]),
        "risk_coverage": {"all": [empty | {"answered": 0}]},
    }
    assert compute_metrics([])["language_pairs"]["pairs"] == 0


def test_question_metrics_feed_compute_metrics():
    answered = prediction("1.000", citations=[sentence(GOLD, 2), sentence(GOLD, 2)], retrieved=RANKED)
    abstained = prediction("Dazu steht nichts.", answerable=False)
    rows = [
        {"language": "de", "articles": ["a"], "metrics": question_metrics(answered, expected()), "latency_s": 3.0},
        {"language": "de", "articles": [], "metrics": question_metrics(abstained, expected(False)), "latency_s": 1.0},
    ]
    overall = compute_metrics(rows)["overall"]
    assert overall["questions"] == 2
    assert overall["accuracy"] == 1.0
    assert overall["correct_and_gold_cited"] == 1.0
    assert overall["citation_precision"] == 1.0
    assert overall["abstention_accuracy"] == 1.0
    assert overall["false_abstention_rate"] == 0.0
    assert overall["retrieval_recall@1"] == 0.0
    assert overall["retrieval_recall@3"] == 1.0
    assert overall["latency_p50"] == 2.0


# trust: wrong with citation, answered precision, coverage


@pytest.mark.parametrize(
    ("predicted", "answerable", "trust"),
    [
        (prediction("1000 [1]", citations=[sentence(GOLD, 2)]), True, (True, False, True)),
        (prediction("2000 [1]", citations=[sentence(GOLD, 2)]), True, (True, True, False)),
        (prediction("2000"), True, (True, False, False)),
        (prediction("Dazu steht nichts.", answerable=False), True, (False, False, None)),
        (prediction("2000 [1]", citations=[sentence(OTHER, 1)]), False, (None, True, False)),
        (prediction("2000"), False, (None, False, False)),
        (prediction("Dazu steht nichts.", answerable=False), False, (None, False, None)),
    ],
    ids=[
        "right-cited",
        "wrong-cited",
        "wrong-uncited",
        "abstained",
        "unanswerable-cited",
        "unanswerable-uncited",
        "unanswerable-abstained",
    ],
)
def test_answered_wrong_with_citation_and_answered_right_per_question(predicted, answerable, trust):
    metrics = question_metrics(predicted, expected(answerable))
    assert (metrics["answered"], metrics["wrong_with_citation"], metrics["answered_right"]) == trust


def test_a_prediction_without_the_answerable_flag_answered_and_its_citations_count():
    predicted = {"answer": "2000", "citations": [sentence(GOLD, 2)]}
    metrics = question_metrics(predicted, expected())
    assert (metrics["answered"], metrics["wrong_with_citation"], metrics["answered_right"]) == (True, True, False)


def trust_rows() -> list[dict]:
    """Four questions: right and gold-cited, wrong but cited, abstained, unanswerable yet answered with a citation."""
    cases = [
        ("de", prediction("1.000 [1]", citations=[sentence(GOLD, 2)]), expected()),
        ("de", prediction("2.000 [1]", citations=[sentence(GOLD, 2)]), expected()),
        ("en", prediction("Nothing on that.", answerable=False, language="en"), expected(language="en")),
        ("en", prediction("1000 [1]", citations=[sentence(GOLD, 2)]), expected(False, "en")),
    ]
    return [
        {"language": language, "articles": ["a"], "metrics": question_metrics(p, e), "latency_s": 1.0}
        for language, p, e in cases
    ]


def test_trust_figures_overall_and_by_language():
    result = compute_metrics(trust_rows())
    overall, german, english = result["overall"], result["by_language"]["de"], result["by_language"]["en"]
    # 2 of all 4 are wrong with a citation; 1 of the 3 answered is right; 2 of the 3 answerable were answered.
    assert (overall["wrong_with_citation"], overall["answered_precision"], overall["coverage"]) == (
        0.5,
        0.3333,
        0.6667,
    )
    assert (german["wrong_with_citation"], german["answered_precision"], german["coverage"]) == (0.5, 0.5, 1.0)
    assert (english["wrong_with_citation"], english["answered_precision"], english["coverage"]) == (0.5, 0.0, 0.0)


def test_trust_figures_of_old_rows_without_them_are_none():
    summary = summarise([{"language": "de", "metrics": {"correct": True}, "latency_s": 1.0}])
    assert summary["wrong_with_citation"] is None
    assert summary["answered_precision"] is None
    assert summary["coverage"] is None


# risk_coverage

WITHHELD_NOTE = "Dazu steht nichts in den Artikeln."


def scored_row(
    final: dict, draft: dict | None, confidence: float | None, answerable: bool = True, language: str = "de"
) -> dict:
    question = expected(answerable, language)
    return {
        "language": language,
        "confidence": confidence,
        "metrics": question_metrics(final, question),
        "draft_metrics": None if draft is None else question_metrics(draft, question),
    }


def risk_rows() -> list[dict]:
    right = prediction("1.000 [1]", citations=[sentence(GOLD, 2)])
    wrong = prediction("2.000 [1]", citations=[sentence(GOLD, 2)])
    made_up = prediction("Kim [1]", citations=[sentence(OTHER, 1)], language="en")
    withheld = prediction(WITHHELD_NOTE, answerable=False)
    return [
        scored_row(right, right, 0.9),  # shown, right
        scored_row(wrong, wrong, 0.6),  # shown, wrong with a citation
        scored_row(withheld, wrong, 0.3),  # withheld draft, wrong with a citation
        scored_row(withheld, made_up, 0.2, answerable=False, language="en"),  # withheld, answers the unanswerable
        scored_row(withheld, None, None),  # retrieval found nothing: no draft
        scored_row(withheld, None, None, answerable=False, language="en"),  # the model said the articles don't say
    ]


def point(threshold, coverage, wrong, precision, answered) -> dict:
    return {
        "threshold": threshold,
        "coverage": coverage,
        "wrong_with_citation": wrong,
        "answered_precision": precision,
        "answered": answered,
    }


def test_risk_coverage_raising_the_threshold_lowers_coverage_and_risk():
    # 6 questions, 4 answerable; drafts at 0.9 (right), 0.6 and 0.3 (wrong, cited), 0.2 (unanswerable, cited).
    assert risk_coverage(risk_rows(), operating=0.5) == [
        point(0.0, 0.75, 0.5, 0.25, 4),
        point(0.2, 0.75, 0.5, 0.25, 4),
        point(0.3, 0.75, 0.3333, 0.3333, 3),
        point(0.5, 0.5, 0.1667, 0.5, 2),
        point(0.6, 0.5, 0.1667, 0.5, 2),
        point(0.9, 0.25, 0.0, 1.0, 1),
        point(0.91, 0.0, 0.0, None, 0),
    ]


def test_risk_coverage_at_the_operating_threshold_matches_the_final_answers():
    rows = risk_rows()
    final = summarise(rows)
    at_operating = risk_coverage(rows, thresholds=[0.5])
    assert at_operating == [point(0.5, final["coverage"], final["wrong_with_citation"], 0.5, 2)]
    assert final["answered_precision"] == 0.5


def test_risk_coverage_keeps_unscored_drafts_and_never_rows_without_a_draft():
    answered = prediction("1.000 [1]", citations=[sentence(GOLD, 2)])
    old = {"language": "de", "metrics": question_metrics(answered, expected())}  # a row from before the verifier
    unscored = scored_row(answered, answered, None)
    assert risk_coverage([unscored, old]) == [point(0.0, 0.5, 0.0, 1.0, 1)]
    assert [p["answered"] for p in risk_coverage([unscored, old], thresholds=[1.0, 0.0, 0.5])] == [1, 1, 1]
    assert [p["threshold"] for p in risk_coverage([unscored, old], thresholds=[1.0, 0.0, 0.5])] == [0.0, 0.5, 1.0]


def test_risk_coverage_of_many_scores_keeps_quantiles_and_the_operating_threshold():
    answered = prediction("1.000 [1]", citations=[sentence(GOLD, 2)])
    rows = [scored_row(answered, answered, i / 200) for i in range(200)]
    points = risk_coverage(rows, operating=0.5055)
    thresholds = [p["threshold"] for p in points]
    assert thresholds == sorted(thresholds)
    assert 50 <= len(points) <= 53
    assert {0.0, 0.5055, 0.995} <= set(thresholds)
    assert thresholds[-1] > 0.995
    assert points[0]["answered"] == 200 and points[-1]["answered"] == 0
    assert next(p for p in points if p["threshold"] == 0.5055)["answered"] == 98  # 0.51 … 0.995
    assert [p["coverage"] for p in points] == sorted((p["coverage"] for p in points), reverse=True)


def test_compute_metrics_has_a_risk_coverage_curve_per_question_language():
    rows = risk_rows()
    curves = compute_metrics(rows, operating_threshold=0.5)["risk_coverage"]
    assert list(curves) == ["all", "de", "en"]
    assert curves["all"] == risk_coverage(rows, operating=0.5)
    # English: one unanswerable question with a withheld draft at 0.2, one without a draft.
    assert curves["en"] == [
        point(0.0, None, 0.5, 0.0, 1),
        point(0.2, None, 0.5, 0.0, 1),
        point(0.21, None, 0.0, None, 0),
        point(0.5, None, 0.0, None, 0),
    ]
    assert [p["threshold"] for p in curves["de"]] == [0.0, 0.3, 0.5, 0.6, 0.9, 0.91]


# wrong with citation, by cause

CAUSE_KEYS = ["wrong_sentence_cited", "gold_cited_misread", "unanswerable_answered"]


@pytest.mark.parametrize(
    ("predicted", "answerable", "causes"),
    [
        (prediction("1000 [1]", citations=[sentence(GOLD, 2)]), True, (False, False, False)),
        (prediction("2000 [1]", citations=[sentence(OTHER, 1)]), True, (True, False, False)),
        (prediction("2000 [1]", citations=[sentence(OTHER, 1), sentence(GOLD, 2)]), True, (False, True, False)),
        (prediction("2000"), True, (False, False, False)),
        (prediction("Dazu steht nichts.", answerable=False, citations=[sentence(GOLD, 2)]), True, (False,) * 3),
        (prediction("2000 [1]", citations=[sentence(OTHER, 1)]), False, (False, False, True)),
        (prediction("2000"), False, (False, False, False)),
    ],
    ids=["right", "wrong-sentence", "gold-misread", "wrong-uncited", "abstained", "unanswerable", "uncited"],
)
def test_wrong_with_citation_splits_into_three_causes(predicted, answerable, causes):
    metrics = question_metrics(predicted, expected(answerable))
    assert tuple(metrics[key] for key in CAUSE_KEYS) == causes
    assert sum(causes) == metrics["wrong_with_citation"]


def test_the_causes_add_up_to_wrong_with_citation_overall_and_by_language():
    rows = [
        *trust_rows(),
        {
            "language": "en",
            "metrics": question_metrics(prediction("2000 [1]", citations=[sentence(OTHER, 1)]), expected()),
        },
    ]
    result = compute_metrics(rows)
    for summary in (result["overall"], *result["by_language"].values()):
        assert sum(summary[key] for key in CAUSE_KEYS) == pytest.approx(summary["wrong_with_citation"], abs=1e-3)
    assert [result["overall"][key] for key in CAUSE_KEYS] == [0.2, 0.2, 0.2]
    assert [result["by_language"]["de"][key] for key in CAUSE_KEYS] == [0.0, 0.5, 0.0]
    assert [result["by_language"]["en"][key] for key in CAUSE_KEYS] == [0.3333, 0.0, 0.3333]
