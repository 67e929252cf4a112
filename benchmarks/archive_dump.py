"""A German news archive as a JSON Lines dump, made from the seeds: one article per line with ``id``,
``title``, ``text``, ``date`` (ISO 8601), ``source`` (the outlet) and ``url``.

    .venv/bin/python benchmarks/archive_dump.py OUT.jsonl [--articles 10000] [--seed 0]

The seeds' sentences (split by ``index.sentences.split_sentences``) are recombined into articles of 8
to 30 sentences (55 % short reports of 8–12, 35 % of 13–22, 10 % features of 23–30; about 14 on
average), most from one seed article (the story) and a few from the others, in paragraphs of 2–4
sentences. Each article perturbs them lightly and consistently: the people of the seeds get other
names (invented ones, first name and surname together), some countries other countries (their German
names come from Babel's locale data), weekdays other weekdays, numbers other values (years stay
2022–2025), verbs of saying and reporting their synonyms, «quote», sagte X. becomes X sagte: «quote».,
"A und B" becomes "B und A", and sentences gain an attribution (", berichtete dpa."). 20 outlets of
different sizes (Zipf weights) publish over two years (2023–2024) with URLs by section and date.

Agency copy: 8 % of stories go out as agency reports that 2–4 outlets print verbatim, each cut after
a different number of sentences and under its own headline, on the same or the next day; their
sentences are the near-duplicates an archive is full of. The five seed articles come first, verbatim,
so the question set stays answerable. A few records are broken on purpose (0.1 % each: a line that
is not JSON, a record without text, a date that cannot be read, and an exact reprint of an earlier
text), as real dumps have them; the index reports them with their line numbers.

Deterministic: the same ``--articles`` and ``--seed`` give the same file, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from common import SEEDS

from index.loading import load_document
from index.sentences import split_sentences

#: Outlets: (name, the host of its site). The names are invented; the hosts use the reserved
#: ``.example`` domain.
OUTLETS: tuple[tuple[str, str], ...] = (
    ("Berliner Abendpost", "berliner-abendpost"),
    ("Hamburger Tageblatt", "hamburger-tageblatt"),
    ("Münchner Rundschau", "muenchner-rundschau"),
    ("Kölner Stadtkurier", "koelner-stadtkurier"),
    ("Frankfurter Morgenpost", "frankfurter-morgenpost"),
    ("Stuttgarter Nachrichtenblatt", "stuttgarter-nachrichtenblatt"),
    ("Leipziger Volksbote", "leipziger-volksbote"),
    ("Rheinische Allgemeine", "rheinische-allgemeine"),
    ("Westfälischer Anzeiger", "westfaelischer-anzeiger"),
    ("Badische Landeszeitung", "badische-landeszeitung"),
    ("Nordsee-Kurier", "nordsee-kurier"),
    ("Sächsische Neueste Nachrichten", "saechsische-nn"),
    ("Thüringer Tagespost", "thueringer-tagespost"),
    ("Hessischer Bote", "hessischer-bote"),
    ("Ostsee-Zeitung Rostock", "ostsee-zeitung-rostock"),
    ("Pfälzer Merkur", "pfaelzer-merkur"),
    ("Allgäuer Tagblatt", "allgaeuer-tagblatt"),
    ("Bremer Weser-Echo", "bremer-weser-echo"),
    ("Deutsche Wochenschau Online", "wochenschau-online"),
    ("Kieler Förde-Nachrichten", "foerde-nachrichten"),
)
SECTIONS = ("politik", "ausland", "international", "nachrichten", "welt")
AGENCIES = ("dpa", "AFP", "Reuters", "AP", "KNA", "epd")
FIRST_DAY, DAYS = date(2023, 1, 1), 731
AGENCY_SHARE = 0.08
BROKEN_SHARE = 0.001

#: The seeds' people: surname → first name (None where the seeds give none).
PEOPLE = {
    "Lawrow": "Sergej",
    "Peskow": "Dmitri",
    "Schoigu": "Sergej",
    "Amir-Abdollahian": "Hossein",
    "Paschinjan": "Nikol",
    "Alijew": "Ilham",
    "Netanjahu": "Benjamin",
    "Arbel": "Yehud",
    "Choe": "Son Hui",
    "Maduro": "Nicolás",
}
FIRST_NAMES = """Anton Boris Jewgeni Igor Pawel Andrej Oleg Wiktor Juri Michail Stefan Jan Tomasz Milan
Aram Levan Rustam Farid Daniel Nikolai Goran Mehmet Kenan Arif""".split()
SURNAMES = """Sokolow Markewitsch Iwanenko Petrenko Ramasanow Kowaltschuk Dolgow Belousow Lebedew
Saizew Orlow Gromow Karimow Nasarow Aliyev Hovhannisjan Grigorjan Haddad Mansour Sadeghi Rahimi
Ben-Ami Kaplan Mizrahi Romero Castillo Fuentes Wendt Halbach Strobel Brenner Kessler""".split()
WEEKDAYS = "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag".split()
#: Countries the seeds name without an article, so that another country fits the same sentence.
SWAPPABLE_COUNTRIES = ("Armenien", "Aserbaidschan", "Israel", "Venezuela", "China", "Japan", "Südkorea")
SYNONYMS = {
    "sagte": ("sagte", "erklärte", "betonte", "sagte"),
    "berichtete": ("berichtete", "meldete", "berichtete"),
    "Außenminister": ("Außenminister", "Aussenminister", "Außenminister"),
    "Krieg": ("Krieg", "Konflikt", "Krieg"),
    "Besuch": ("Besuch", "Aufenthalt", "Besuch"),
    "Beziehungen": ("Beziehungen", "Verbindungen", "Kontakte"),
    "intensiviert": ("intensiviert", "vertieft", "ausgebaut"),
    "Waffen": ("Waffen", "Rüstungsgüter", "Waffen"),
    "Regierung": ("Regierung", "Führung", "Regierung"),
    "Machthaber": ("Machthaber", "Machthaber", "Staatschef"),
}
HEADLINES = (
    "{Lawrow} trifft {Kim} in Pjöngjang",
    "{Lawrow} zu Gesprächen in Nordkorea eingetroffen",
    "Moskau und Pjöngjang vertiefen ihre Partnerschaft",
    "{Putin}-Besuch in Nordkorea in Vorbereitung",
    "Kreml: Dialog mit Nordkorea wird fortgesetzt",
    "{Peskow}: Nordkorea ist unser nächster Nachbar",
    "Sanktionen: Russland sucht Partner in Asien",
    "Waffenlieferungen an Russland? Washington besorgt",
    "Außenministerin {Choe} zu Besuch in Moskau",
    "{Lawrow} lobt strategische Partnerschaft mit {Kim}",
    "Russland und Nordkorea: Was hinter der Annäherung steckt",
    "Nordkorea sprengt Verbindungsbüro in Kaesong",
    "{Kim} empfängt russischen Außenminister",
    "{Land}: Reaktionen auf die Annäherung von Moskau und Pjöngjang",
    "Analyse: Der neue Schulterschluss im Nordosten Asiens",
    "{Lawrow} spricht mit Amtskollegen aus {Land}",
)


_CREDIT = re.compile(r"©|Foto:|/ Foto|epa/")


@dataclass(frozen=True, slots=True)
class Story:
    """A seed article as material: its title and its sentences, in order."""

    name: str
    title: str
    date: str | None
    publisher: str | None
    text: str
    sentences: list[str]


@dataclass(slots=True)
class Article:
    id: str
    title: str
    text: str
    date: str
    source: str
    url: str
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "text": self.text,
            "date": self.date,
            "source": self.source,
            "url": self.url,
            **self.extra,
        }


def seed_stories(max_file_bytes: int = 5_000_000) -> list[Story]:
    """The seed articles as the project's loader reads them, split into sentences."""
    stories = []
    for path in sorted(SEEDS.glob("*.txt")):
        document, _ = load_document(path, max_file_bytes)
        sentences = [document.text[span.start : span.end] for span in split_sentences(document.text)]
        # Headlines run into photo credits in some seeds: those are not article sentences.
        sentences = [s for s in sentences if 25 <= len(s) <= 400 and not s.isupper() and not _CREDIT.search(s)]
        stories.append(Story(path.stem, document.title, document.date, document.publisher, document.text, sentences))
    return stories


def other_countries() -> list[str]:
    """German country names that stand without an article ("in Peru", not "in der Türkei"), from
    Babel's German locale data; a short fixed list where Babel is not installed."""
    try:
        from babel import Locale
    except ImportError:
        return ["Frankreich", "Polen", "Brasilien", "Indien", "Vietnam", "Kuba", "Syrien", "Kasachstan"]
    names = Locale.parse("de").territories
    with_article = {"Schweiz", "Irak", "Iran", "Jemen", "Libanon", "Sudan", "Tschad", "Kongo", "Niger", "Senegal"}
    found = sorted(
        name
        for code, name in names.items()
        if code.isalpha()
        and len(code) == 2
        and re.fullmatch(r"[A-ZÄÖÜ][a-zäöüß]+", name)
        and not name.endswith(("ei", "en", "inseln", "land"))
        and name not in with_article
        and name not in SWAPPABLE_COUNTRIES
    )
    return [*found, "Polen", "Finnland", "Estland", "Lettland", "Griechenland", "Irland"]


class Perturbation:
    """One article's consistent changes: who is renamed to whom, which country and weekday become
    which, and a random stream for numbers, synonyms and word order."""

    def __init__(self, rng: random.Random, countries: list[str]):
        self.rng = rng
        self.names: dict[str, tuple[str, str]] = {}
        for surname, first in PEOPLE.items():
            if rng.random() < 0.45:
                self.names[surname] = (rng.choice(FIRST_NAMES), rng.choice(SURNAMES))
            elif first is not None:
                self.names[surname] = (first, surname)
        self.countries = {c: rng.choice(countries) for c in SWAPPABLE_COUNTRIES if rng.random() < 0.3}
        shift = rng.randrange(7) if rng.random() < 0.4 else 0
        self.weekdays = {day: WEEKDAYS[(i + shift) % 7] for i, day in enumerate(WEEKDAYS)}
        self._people = re.compile(
            r"\b(?:(?P<first>[A-ZÄÖÜ][a-zäöüéá]+) )?(?P<last>"
            + "|".join(map(re.escape, sorted(PEOPLE, key=len, reverse=True)))
            + r")(?P<genitive>s)?\b"
        )
        places = [*self.countries, *WEEKDAYS]
        self._places = re.compile(r"\b(" + "|".join(places) + r")\b")

    def name(self, surname: str) -> str:
        return self.names.get(surname, ("", surname))[1]

    def sentence(self, text: str, attribution: bool = True) -> str:
        rng = self.rng
        if "Choe Son Hui" in text and self.names.get("Choe", ("", "Choe"))[1] != "Choe":
            text = text.replace("Choe Son Hui", " ".join(self.names["Choe"]))
        text = self._people.sub(self._person, text)
        text = self._places.sub(lambda m: self.countries.get(m.group(), self.weekdays.get(m.group(), m.group())), text)
        text = re.sub(r"\d+(?:\.\d{3})*", self._number, text)
        for word, choices in SYNONYMS.items():
            if word in text and rng.random() < 0.5:
                text = re.sub(rf"\b{word}\b", rng.choice(choices), text)
        if rng.random() < 0.5:
            text = self._quote_first(text)
        if rng.random() < 0.3:
            text = re.sub(r"\b([A-ZÄÖÜ][a-zäöüß]+) und ([A-ZÄÖÜ][a-zäöüß]+)\b", r"\2 und \1", text, count=1)
        if attribution and text.endswith(".") and not text.endswith("..") and rng.random() < 0.2:
            day = f"{rng.randint(1, 28)}. {_month(rng)}"
            text = f"{text[:-1]}, {rng.choice(('berichtete', 'meldete'))} {rng.choice(AGENCIES)} am {day}."
        return text

    def _person(self, match: re.Match[str]) -> str:
        """ "Sergej Lawrow" becomes the new full name; "Außenminister Lawrow" keeps its title."""
        before, last, genitive = match.group("first"), match.group("last"), match.group("genitive") or ""
        first, new_last = self.names.get(last, (PEOPLE[last] or "", last))
        if before is not None and before == PEOPLE[last]:
            return f"{first} {new_last}{genitive}"
        return f"{before + ' ' if before else ''}{new_last}{genitive}"

    def _number(self, match: re.Match[str]) -> str:
        number = match.group()
        if self.rng.random() < 0.5:
            return number
        digits = number.replace(".", "")
        if len(digits) == 4 and digits.startswith(("19", "20")):
            return str(self.rng.randint(2022, 2025))
        if len(digits) <= 2 and int(digits) <= 31:  # a day or a month, perhaps
            return str(self.rng.randint(1, 12 if int(digits) <= 12 else 28))
        value = self.rng.randint(max(1, 10 ** (len(digits) - 1)), 10 ** len(digits) - 1)
        return f"{value:,}".replace(",", ".") if "." in number else str(value)

    @staticmethod
    def _quote_first(text: str) -> str:
        """«Quote», sagte der X. → Der X sagte: «Quote»."""
        found = re.fullmatch(r"(«[^»]+»), (sagte|erklärte|betonte) (.+?)\.", text)
        if not found or "«" in found.group(3):
            return text
        speaker, quote = found.group(3), found.group(1)
        end = "»" if quote[-2] in ".!?…" else ".»"
        return f"{speaker[0].upper()}{speaker[1:]} {found.group(2)}: {quote[:-1]}{end}"


def _month(rng: random.Random) -> str:
    return rng.choice("Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split())


def slug(text: str, words: int = 8) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode()
    parts = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return "-".join(parts[:words]) or "artikel"


class ArchiveWriter:
    """Makes the articles of one archive, in the order of the dump."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.stories = seed_stories()
        self.countries = other_countries()
        self.pool = [(i, s) for i, story in enumerate(self.stories) for s in story.sentences]
        weights = [1 / (rank + 1) for rank in range(len(OUTLETS))]  # a few large outlets, many small
        self.outlet_weights = weights
        self.number = 0

    def articles(self, count: int) -> Iterator[Article]:
        """``count`` articles: the seeds first, then stories, some as agency copy in several outlets."""
        made = 0
        for article in self._originals():
            if made == count:
                return
            made += 1
            yield article
        while made < count:
            if self.rng.random() < AGENCY_SHARE and count - made >= 2:
                copies = self._agency_copies(min(self.rng.randint(2, 4), count - made))
            else:
                copies = [self._story()]
            for article in copies:
                made += 1
                yield article

    def _originals(self) -> Iterator[Article]:
        for story in self.stories:
            outlet, host = OUTLETS[self.rng.randrange(len(OUTLETS))]
            day = story.date if story.date and len(story.date) == 10 else _day(self.rng)
            yield self._article(story.title, story.text, day, outlet, host)

    def _sentences(self, perturb: Perturbation, attribution: bool = True) -> list[str]:
        rng = self.rng
        kind = rng.random()
        length = rng.randint(8, 12) if kind < 0.55 else rng.randint(13, 22) if kind < 0.9 else rng.randint(23, 30)
        story = rng.randrange(len(self.stories))
        own = self.stories[story].sentences
        from_story = min(len(own), round(length * rng.uniform(0.6, 0.85)))
        start = rng.randrange(len(own) - from_story + 1)
        if rng.random() < 0.5:  # a passage of the story, or sentences from all over it, in order
            chosen = own[start : start + from_story]
        else:
            chosen = sorted(rng.sample(own, from_story), key=own.index)
        others = [s for i, s in self.pool if i != story]
        for sentence in rng.sample(others, length - len(chosen)):
            chosen.insert(rng.randint(1, len(chosen)), sentence)
        return [perturb.sentence(s, attribution) for s in chosen]

    def _story(self) -> Article:
        perturb = Perturbation(self.rng, self.countries)
        sentences = self._sentences(perturb)
        outlet, host = self._outlet()
        return self._article(self._headline(perturb), _paragraphs(sentences, self.rng), _day(self.rng), outlet, host)

    def _agency_copies(self, outlets: int) -> list[Article]:
        """One agency report printed verbatim by ``outlets`` outlets, each cut at its own length."""
        perturb = Perturbation(self.rng, self.countries)
        sentences = self._sentences(perturb, attribution=False)
        agency = self.rng.choice(AGENCIES)
        city = self.rng.choice(("Moskau", "Pjöngjang", "Seoul", "Berlin", "Washington", "Peking"))
        sentences[0] = f"{city} ({agency}) - {sentences[0]}"
        day = _day(self.rng)
        options = range(max(6, len(sentences) - 5), len(sentences) + 1)
        if len(options) >= outlets:
            lengths = self.rng.sample(options, outlets)
        else:
            lengths = [len(sentences) - i for i in range(outlets)]
        chosen = self.rng.sample(range(len(OUTLETS)), outlets)
        copies = []
        for keep, which in zip(lengths, chosen, strict=True):
            outlet, host = OUTLETS[which]
            published = day + timedelta(days=self.rng.random() < 0.3)
            text = _paragraphs(sentences[:keep], random.Random(keep))
            copies.append(self._article(self._headline(perturb), text, published, outlet, host, {"author": agency}))
        return copies

    def _headline(self, perturb: Perturbation) -> str:
        template = self.rng.choice(HEADLINES)
        return template.format(
            Lawrow=perturb.name("Lawrow"),
            Peskow=perturb.name("Peskow"),
            Choe=perturb.name("Choe"),
            Kim="Kim",
            Putin="Putin",
            Land=self.rng.choice(self.countries),
        )

    def _outlet(self) -> tuple[str, str]:
        return self.rng.choices(OUTLETS, weights=self.outlet_weights)[0]

    def _article(
        self, title: str, text: str, day: date | str, outlet: str, host: str, extra: dict[str, Any] | None = None
    ) -> Article:
        self.number += 1
        when = day if isinstance(day, date) else date.fromisoformat(day)
        stamp = f"{when.isoformat()}T{self.rng.randint(5, 22):02d}:{self.rng.choice((0, 15, 30, 45)):02d}:00+01:00"
        section = self.rng.choice(SECTIONS)
        url = f"https://www.{host}.example/{section}/{when:%Y/%m/%d}/{slug(title)}-{self.number}"
        return Article(f"{host}-{when:%Y%m%d}-{self.number:06d}", title, text, stamp, outlet, url, extra or {})


def _day(rng: random.Random) -> date:
    return FIRST_DAY + timedelta(days=rng.randrange(DAYS))


def _paragraphs(sentences: list[str], rng: random.Random) -> str:
    paragraphs, at = [], 0
    while at < len(sentences):
        size = rng.randint(2, 4)
        paragraphs.append(" ".join(sentences[at : at + size]))
        at += size
    return "\n\n".join(paragraphs)


def dump_lines(articles: list[Article], seed: int = 0) -> list[str]:
    """The dump's lines: one JSON object per article, with a few broken records among them."""
    rng = random.Random(seed + 1)
    lines = [json.dumps(article.record(), ensure_ascii=False) for article in articles]
    broken = max(1, round(BROKEN_SHARE * len(articles))) if len(articles) >= 100 else 0
    for kind in ("not json", "no text", "bad date", "reprint"):
        for _ in range(broken):
            at = rng.randrange(len(articles) // 2, len(lines) + 1)
            source = articles[rng.randrange(len(articles) // 2)].record()
            source["id"] = f"defekt-{kind.replace(' ', '-')}-{at}-{rng.randrange(10**6)}"
            if kind == "not json":
                line = json.dumps(source, ensure_ascii=False)[: rng.randint(40, 200)]
            elif kind == "no text":
                line = json.dumps(source | {"text": ""}, ensure_ascii=False)
            elif kind == "bad date":
                line = json.dumps(source | {"date": "im Herbst"}, ensure_ascii=False)
            else:
                line = json.dumps(source, ensure_ascii=False)
            lines.insert(at, line)
    return lines


def write_dump(path: Path, articles: int, seed: int = 0) -> dict[str, Any]:
    """Write an archive of ``articles`` articles to ``path``; returns what it holds."""
    made = list(ArchiveWriter(seed).articles(articles))
    lines = dump_lines(made, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    agency = sum(1 for a in made if "author" in a.extra)
    return {
        "articles": len(made),
        "lines": len(lines),
        "broken_records": len(lines) - len(made),
        "agency_copies": agency,
        "outlets": len({a.source for a in made}),
        "first_date": min(a.date for a in made)[:10],
        "last_date": max(a.date for a in made)[:10],
        "mb": round(path.stat().st_size / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the JSON Lines file to write")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(write_dump(args.out, args.articles, args.seed), ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
