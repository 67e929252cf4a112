"""German and English questions of one fact, compared question for question in qa eval's figures."""

from qa.evaluation.metrics import compute_metrics
from qa.evaluation.pairs import language_pairs, pair_key, pair_summary
from qa.evaluation.report import render_report, summary_text

GOLD = [{"doc": "a", "sentence": "Nordkorea lieferte mehr als 1.000 Container."}]
OTHER = [{"doc": "b", "sentence": "Der Minister traf Kim für rund eine Stunde."}]


def row(identifier: str, language: str, gold=GOLD, recall3: bool = True, correct: bool = True) -> dict:
    metrics = {
        "retrieval_recall@1": recall3,
        "retrieval_recall@3": recall3,
        "retrieval_recall@10": True,
        "correct_and_gold_cited": correct,
        "false_abstention": False,
    }
    expected = {"gold": gold, "answerable": bool(gold), "answers": ["1.000"] if gold else []}
    return {"id": identifier, "language": language, "expected": expected, "metrics": metrics}


def test_the_id_without_its_language_code_names_the_pair():
    assert pair_key("news-013-de") == pair_key("news-013-en") == "news-013"
    assert pair_key("de-07") == pair_key("en-07") == "07"
    assert pair_key("xq-5728d63c4b864d1900164f1b-en") == "xq-5728d63c4b864d1900164f1b"
    assert pair_key("q17") is None and pair_key("denmark-1") is None


def test_pairs_need_both_languages_and_the_same_gold_sentences():
    rows = [
        row("news-1-de", "de"),
        row("news-1-en", "en"),
        row("news-2-de", "de"),  # no English twin
        row("de-03", "de", GOLD),
        row("en-03", "en", OTHER),  # same number, another fact: the seed set numbers each language apart
        row("news-u1-de", "de", []),
        row("news-u1-en", "en", []),  # unanswerable: no gold to compare
    ]
    assert [(g["id"], e["id"]) for g, e in language_pairs(rows)] == [("news-1-de", "news-1-en")]


def test_the_gap_is_german_minus_english_over_the_pairs():
    rows = [
        row("x-1-de", "de"),
        row("x-1-en", "en", recall3=False),
        row("x-2-de", "de"),
        row("x-2-en", "en"),
        row("x-3-en", "en", recall3=False, correct=False),  # unpaired: left out
    ]
    summary = pair_summary(rows)
    assert summary["pairs"] == 2
    assert summary["de"]["retrieval_recall@3"] == 1.0 and summary["en"]["retrieval_recall@3"] == 0.5
    assert summary["gap"]["retrieval_recall@3"] == 0.5 and summary["gap"]["correct_and_gold_cited"] == 0.0
    assert pair_summary([row("x-1-de", "de")]) == {"pairs": 0, "de": {}, "en": {}, "gap": {}} | {
        "de": {f: None for f in summary["de"]},
        "en": {f: None for f in summary["en"]},
        "gap": {f: None for f in summary["gap"]},
    }


def test_the_summary_and_the_report_show_the_pairs():
    rows = [row("x-1-de", "de"), row("x-1-en", "en", recall3=False)]
    metrics = compute_metrics(rows)
    assert metrics["language_pairs"]["gap"]["retrieval_recall@3"] == 1.0
    text = summary_text(metrics)
    assert "1 facts asked in both languages" in text
    assert any(line.split()[-1] == "+100.0" for line in text.splitlines() if "Retrieval recall@3" in line)
    report = render_report(rows, metrics, {}, "chart.png")
    assert "## German and English, fact for fact" in report
    assert "| Retrieval recall@3 | 100.0 % | 0.0 % | +100.0 |" in report
    assert "fact for fact" not in render_report([row("x-1-de", "de")], compute_metrics([row("x-1-de", "de")]), {}, "c")
