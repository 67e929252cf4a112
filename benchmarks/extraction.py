"""Article extraction from saved web pages: trafilatura (what ``qa index`` uses) against the
BeautifulSoup cleaning the project used before, on pages made from the seed articles.

Each seed article is put into two page layouts full of furniture (cookie banner, navigation,
"Textgröße ändern", teasers, share bar, newsletter box, footer): one whose article sits in an
``<article>`` element, and one where it sits in a plain ``<div class="article-body">`` as many sites
write it. The figures: the share of the article's sentences kept verbatim (recall) and the number of
furniture lines that leak into the text (lower is better).

    python benchmarks/extraction.py
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SEEDS, write_results

from index.formats import _soup_text, parse_html
from index.loading import load_document
from index.sentences import split_sentences

FURNITURE = [
    "Wir verwenden Cookies, um Ihnen das beste Nutzererlebnis zu bieten.",
    "Akzeptieren",
    "Politik Wirtschaft Sport Kultur Panorama",
    "Textgröße ändern: A- A+",
    "Artikel drucken",
    "Mehr zum Thema",
    "Kim reist nach Russland – was bisher bekannt ist",
    "Jetzt teilen: Facebook · X · WhatsApp · E-Mail",
    "Melden Sie sich jetzt für unseren kostenlosen Newsletter an.",
    "© 2023 Beispiel-Zeitung GmbH · Impressum · Datenschutz · Kontakt",
]


def page(title: str, paragraphs: list[str], container: str) -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    middle = len(paragraphs) // 2
    teaser = f"<div class='teaser'><h3>{FURNITURE[5]}</h3><ul><li><a href='/a'>{FURNITURE[6]}</a></li></ul></div>"
    parts = body.split("\n")
    body = "\n".join([*parts[:middle], teaser, *parts[middle:]])
    open_tag, close_tag = ("<article>", "</article>")
    if container != "article":
        open_tag, close_tag = "<div class='article-body'>", "</div>"
    return f"""<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script>var dataLayer = [];</script></head><body>
<div class="consent"><p>{FURNITURE[0]}</p><button>{FURNITURE[1]}</button></div>
<div class="top"><ul class="menu"><li>{FURNITURE[2]}</li></ul></div>
<div class="tools">{FURNITURE[3]} | {FURNITURE[4]}</div>
<div class="content">{open_tag}<h1>{html.escape(title)}</h1>
{body}
<div class="share">{FURNITURE[7]}</div>{close_tag}</div>
<div class="newsletter"><p>{FURNITURE[8]}</p></div>
<div class="bottom"><p>{FURNITURE[9]}</p></div>
</body></html>"""


def soup_reading(markup: str) -> str:
    """The earlier cleaning: the <article> (else <body>) text without scripts, navigation and footers."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    return _soup_text(soup.find("article") or soup.body or soup)


def score(text: str, sentences: list[str]) -> tuple[float, int]:
    flat = " ".join(text.split())
    kept = sum(1 for sentence in sentences if " ".join(sentence.split()) in flat)
    leaked = sum(1 for line in FURNITURE if line in flat)
    return kept / len(sentences), leaked


def main() -> None:
    rows = []
    for path in sorted(SEEDS.glob("*.txt")):
        document, _ = load_document(path, 10**7)
        paragraphs = [p for p in document.text.split("\n\n") if p.strip()]
        sentences = [document.text[s.start : s.end] for s in split_sentences(document.text)]
        for container in ("article", "div"):
            markup = page(document.title, paragraphs, container)
            for method, text in (("trafilatura", parse_html(markup).text), ("beautifulsoup", soup_reading(markup))):
                recall, leaked = score(text, sentences)
                rows.append(
                    {"seed": path.stem[:3], "layout": container, "method": method, "sentences kept": round(recall, 3),
                     "furniture lines leaked": leaked}
                )  # fmt: skip
    summary = {}
    for method in ("trafilatura", "beautifulsoup"):
        for container in ("article", "div"):
            chosen = [r for r in rows if r["method"] == method and r["layout"] == container]
            kept = sum(r["sentences kept"] for r in chosen) / len(chosen)
            leaked = sum(r["furniture lines leaked"] for r in chosen)
            summary[f"{method}, <{container}> pages"] = (
                f"{kept:.1%} of sentences kept, {leaked} of {len(FURNITURE) * len(chosen)} furniture lines leaked"
            )
    write_results("extraction", summary, rows)


if __name__ == "__main__":
    main()
