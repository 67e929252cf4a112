import pytest

from index.retrieval import SentenceHit
from qa.answering.prompt import numbered_context
from qa.prompts import PROMPTS, load_prompt, render


@pytest.mark.parametrize("name", ["answer", "rewrite"])
@pytest.mark.parametrize("language", ["de", "en"])
def test_every_prompt_exists_per_language_with_short_few_shot_turns(name, language):
    turns = load_prompt(name, language)
    assert turns[0].role == "system" and turns[-1].role == "user"
    shots = [t for t in turns if t.role == "assistant"]
    assert 1 <= len(shots) <= 3
    assert "$question" in turns[-1].content
    assert sum(len(t.content) for t in turns) < 2500, "keep prompts short: each 100 tokens cost about a second"


def test_answer_prompts_abstain_in_their_own_language():
    assert "Dazu steht nichts in den Artikeln." in (PROMPTS / "answer.de.txt").read_text()
    assert "The articles don't say." in (PROMPTS / "answer.en.txt").read_text()


def _hit(doc_id: str, index: int, sentence: str) -> SentenceHit:
    return SentenceHit(
        doc_id, f"Titel {doc_id}", "", index, sentence, 0, len(sentence), 0.9, 0.9, 0.0, date="2023-10", publisher="dpa"
    )


def test_context_groups_by_article_numbers_in_reading_order():
    hits = [_hit("b", 5, "B fünf."), _hit("a", 2, "A zwei."), _hit("b", 1, "B  eins\nweiter.")]
    text, numbered = numbered_context(hits, "de")
    assert text.splitlines() == [
        "Artikel: Titel b (2023-10, dpa)",
        "[1] B eins weiter.",
        "[2] B fünf.",
        "Artikel: Titel a (2023-10, dpa)",
        "[3] A zwei.",
    ]
    assert [(h.doc_id, h.sentence_index) for h in numbered] == [("b", 1), ("b", 5), ("a", 2)]


def test_render_fills_only_the_last_turn():
    messages = render("answer", "en", context="[1] Satz.", question="Why $x {y}?")
    assert messages[-1]["content"].endswith("[1] Satz.\n\nQuestion: Why $x {y}?")
    assert all("$context" not in m["content"] for m in messages)
