"""Per-format cleaning and metadata: plain text, Markdown and HTML."""

from __future__ import annotations

import pytest

from index.formats import parse_html, parse_markdown, parse_text

BODY = "Der Minister sprach am Montag in Berlin über die Lage."


def lines(text: str) -> list[str]:
    return text.split("\n")


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def meta(key: str, value: str, attribute: str = "property") -> str:
    return f'<meta {attribute}="{key}" content="{value}">'


# --- parse_text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_line", "publisher", "author"),
    [
        ("(Reuters)", "Reuters", None),
        ("(P.Vasilyevsky--DTZ)", "DTZ", "P.Vasilyevsky"),
        ("dpa", "dpa", None),
        ("toi-allgemeines", "toi-allgemeines", None),
        ("Das ist das Ende des Artikels.", None, None),
    ],
)
def test_text_credit_line(last_line: str, publisher: str | None, author: str | None) -> None:
    parsed = parse_text(f"Titelzeile\n\n{BODY}\n\n{last_line}")

    assert (parsed.publisher, parsed.author) == (publisher, author)
    assert parsed.text.endswith(last_line)  # the credit stays part of the stored text


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("Berlin, 2024-03-12\n\n" + BODY, "2024-03-12"),
        ("Berlin, 12.03.2024\n\n" + BODY, "2024-03-12"),
        ("Bonn (1.3.2024): " + BODY, "2024-03-01"),
        (BODY + "\n\nStand: 2023-10", "2023-10"),
        (BODY, None),
    ],
)
def test_text_date_near_the_edges(text: str, date: str | None) -> None:
    assert parse_text(text).date == date


def test_text_date_in_the_middle_of_a_long_article_is_ignored() -> None:
    paragraphs = [f"Absatz {n}: {BODY}" for n in range(10)]
    paragraphs[5] = "Am 12.03.2024 wurde abgestimmt."

    assert parse_text("\n\n".join(paragraphs)).date is None


def test_text_date_marker_is_used_and_removed() -> None:
    parsed = parse_text(" date 2023-10 Offenbar ist ein Besuch geplant.\n\n" + BODY)

    assert parsed.date == "2023-10"
    assert parsed.text == "Offenbar ist ein Besuch geplant.\n\n" + BODY
    assert parsed.title == "Offenbar ist ein Besuch geplant."


def test_text_title_is_the_first_sentence_of_the_first_nonempty_line() -> None:
    parsed = parse_text("\n\n   \nErster Satz hier. Zweiter Satz folgt.\nNächste Zeile.\n\n")

    assert parsed.title == "Erster Satz hier."
    assert parsed.text == "   \nErster Satz hier. Zweiter Satz folgt.\nNächste Zeile."


def test_text_headline_without_punctuation_is_the_whole_line() -> None:
    assert parse_text("Lawrow trifft Kim in Pjöngjang\n\n" + BODY).title == "Lawrow trifft Kim in Pjöngjang"


def test_text_long_first_line_gives_a_shortened_title() -> None:
    first_line = " ".join(["Außenministerium"] * 30)  # 509 characters, no sentence end

    title = parse_text(first_line + "\n\n" + BODY).title

    assert title is not None and title.endswith(" …")
    assert 100 < len(title) <= 142
    assert first_line.startswith(title.removesuffix(" …") + " ")  # cut at a word boundary


# --- parse_markdown ---------------------------------------------------------------------------


def test_markdown_front_matter_is_used_and_removed() -> None:
    source = (
        "---\ntitle: \"Lawrow in Pjöngjang\"\ndate: 2024-03-12\nauthor: 'Anna Beispiel'\n"
        "source: Tagesschau\n---\n" + BODY + "\n"
    )

    parsed = parse_markdown(source)

    assert parsed.title == "Lawrow in Pjöngjang"
    assert (parsed.date, parsed.author, parsed.publisher) == ("2024-03-12", "Anna Beispiel", "Tagesschau")
    assert parsed.text == BODY


def test_markdown_heading_becomes_the_title_without_hashes() -> None:
    parsed = parse_markdown("# Russlands **Außenminister** reist ##\n" + BODY + "\n")

    assert parsed.title == "Russlands Außenminister reist"
    assert parsed.text == "Russlands Außenminister reist\n\n" + BODY
    assert "#" not in parsed.text


def test_markdown_front_matter_title_wins_over_the_heading() -> None:
    parsed = parse_markdown("---\ntitle: Aus dem Kopf\n---\n\n## Zwischentitel\n\n" + BODY)

    assert parsed.title == "Aus dem Kopf"
    assert parsed.text == "Zwischentitel\n\n" + BODY


def test_markdown_inline_markup_is_removed() -> None:
    source = "Der Minister traf [Kim Jong Un](https://example.org/kim) und sprach **lange** und *offen*."

    assert parse_markdown(source).text == "Der Minister traf Kim Jong Un und sprach lange und offen."


def test_markdown_soft_wrapped_lines_are_joined_and_paragraphs_kept() -> None:
    source = "Der Minister sprach\nam Montag in Berlin\nüber die Lage.\n\nZweiter Absatz\nfolgt hier.\n"

    parsed = parse_markdown(source)

    assert parsed.text == "Der Minister sprach am Montag in Berlin über die Lage.\n\nZweiter Absatz folgt hier."


def test_markdown_list_items_stay_separate_lines() -> None:
    source = "Die Punkte:\n\n- erster Punkt\n- zweiter Punkt mit [Link](u)\n  fortgesetzt\n1. dritter Punkt\n"

    parsed = parse_markdown(source)

    assert lines(parsed.text) == [
        "Die Punkte:",
        "",
        "- erster Punkt",
        "- zweiter Punkt mit Link fortgesetzt",
        "1. dritter Punkt",
    ]


# --- parse_html -------------------------------------------------------------------------------


def test_html_title_comes_from_the_title_tag() -> None:
    parsed = parse_html(page(f"<h1>Überschrift</h1><p>{BODY}</p>", head="<title>  Lawrow\n in Pjöngjang </title>"))

    assert parsed.title == "Lawrow in Pjöngjang"
    assert parsed.text == f"Überschrift\n\n{BODY}"


def test_html_h1_is_the_title_when_there_is_no_title_tag() -> None:
    assert parse_html(page(f"<h1>Gipfel <em>in</em> Berlin</h1><p>{BODY}</p>")).title == "Gipfel in Berlin"


@pytest.mark.parametrize(
    ("head", "body", "date"),
    [
        (meta("article:published_time", "2024-03-12T08:15:00+01:00"), "", "2024-03-12"),
        (meta("date", "2023-10-19", attribute="name"), "", "2023-10-19"),
        ("", '<time datetime="2023-10-19T10:00:00Z">19. Oktober</time>', "2023-10-19"),
        ("", "", None),
    ],
)
def test_html_date_is_normalised(head: str, body: str, date: str | None) -> None:
    assert parse_html(page(f"{body}<p>{BODY}</p>", head=head)).date == date


def test_html_publisher_and_author_come_from_meta_tags() -> None:
    head = meta("og:site_name", "Tagesschau") + meta("author", "Anna Beispiel", attribute="name")

    parsed = parse_html(page(f"<p>{BODY}</p>", head=head))

    assert (parsed.publisher, parsed.author) == ("Tagesschau", "Anna Beispiel")


def test_html_scripts_styles_navigation_and_footer_are_dropped() -> None:
    body = (
        "<nav>Startseite | Politik</nav><script>var tracking = 1;</script>"
        f"<style>p {{ color: red; }}</style><p>{BODY}</p><!-- Werbung --><footer>Impressum</footer>"
    )

    assert parse_html(page(body, head="<style>body {}</style>")).text == BODY


def test_html_paragraphs_are_separated_by_a_blank_line() -> None:
    parsed = parse_html(page("<div><p>Erster Absatz.</p><p>Zweiter Absatz.</p></div><ul><li>Punkt</li></ul>"))

    assert parsed.text == "Erster Absatz.\n\nZweiter Absatz.\n\nPunkt"


def test_html_inline_tags_do_not_break_a_sentence() -> None:
    compact = '<p>Der <b>Minister</b> sagte <a href="#">am Montag</a>, dass er komme.</p>'
    wrapped = '<p>\n  Der <b>Minister</b> sagte\n  <a href="#">am Montag</a>,\n  dass er komme.\n</p>'

    assert parse_html(page(compact)).text == "Der Minister sagte am Montag, dass er komme."
    assert parse_html(page(wrapped)).text == "Der Minister sagte am Montag, dass er komme."


def test_html_br_gives_a_line_break() -> None:
    parsed = parse_html(page("<p>Berlin, Montag<br>Zweite Zeile<br/>Dritte Zeile</p>"))

    assert lines(parsed.text) == ["Berlin, Montag", "Zweite Zeile", "Dritte Zeile"]


def test_html_article_is_preferred_over_surrounding_body_text() -> None:
    body = f"<div>Anmelden</div><article><h2>Lage</h2><p>{BODY}</p></article><p>Mehr zum Thema</p>"

    parsed = parse_html(page(body))

    assert parsed.text == f"Lage\n\n{BODY}"


def test_html_without_article_uses_the_whole_body() -> None:
    assert parse_html(page(f"<div>Anmelden</div><p>{BODY}</p>")).text == f"Anmelden\n\n{BODY}"
