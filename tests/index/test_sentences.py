import itertools
import json
from pathlib import Path

import pytest

from index.loading import load_documents
from index.sentences import split_sentences

DATA = Path(__file__).resolve().parents[1] / "data"
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.fixture(scope="module")
def seeds():
    return {d.doc_id: d for d in load_documents([SEEDS], 5_000_000).documents}


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def boundaries(texts: list[str]) -> set[int]:
    """Sentence starts as offsets into the concatenation, so splits can be compared as sets."""
    starts, offset = set(), 0
    for text in texts:
        starts.add(offset)
        offset += len(text)
    return starts


def test_offsets_reproduce_every_sentence_verbatim_in_every_seed(seeds):
    assert len(seeds) == 5
    for document in seeds.values():
        spans = split_sentences(document.text)
        assert spans
        for span in spans:
            sentence = document.text[span.start : span.end]
            assert sentence == sentence.strip() and sentence
        assert [s.start for s in spans] == sorted(s.start for s in spans)
        assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_no_wrong_splits_on_the_seeds_against_hand_checked_gold(seeds):
    gold = json.loads((DATA / "seed_sentences.json").read_text(encoding="utf-8"))
    wrong = 0
    for doc_id, expected in gold.items():
        predicted = sentences(seeds[doc_id].text)
        wrong += len(boundaries(expected) ^ boundaries(predicted))
        assert predicted == expected, doc_id
    assert wrong == 0


@pytest.mark.parametrize(
    ("doc_id", "sentence"),
    [
        ("000_c0f6a50aa29bb6c2", "«Der Dialog auf allen Ebenen wird fortgesetzt», sagte Peskow."),
        ("000_c0f6a50aa29bb6c2", "«Wir freuen uns auf intensive und ... fruchtbare Verhandlungen.»"),
        ("000_c0f6a50aa29bb6c2", "(Reuters)"),
        (
            "001_1d0c2a484e463a8b",
            "Deutsche Tageszeitung - Russischer Außenminister Lawrow trifft Nordkoreas Machthaber Kim Jong Un",
        ),
        ("001_1d0c2a484e463a8b", "Textgröße ändern:"),
        (
            "001_1d0c2a484e463a8b",
            'Die nordkoreanischen Soldaten hätten der russischen Armee "heroisch" beim Zurückdrängen der '
            "ukrainischen Streitkräfte geholfen, hieß es in einer Erklärung des russischen Außenministeriums.",
        ),
        (
            "001_1d0c2a484e463a8b",
            "Lawrow soll laut russischen und nordkoreanischen Staatsmedien bis Sonntag in Nordkorea zu Besuch sein.",
        ),
        (
            "002_8dc24f57d4033450",
            "Das Weiße Haus teilte am Freitag mit, dass Nordkorea für seinen anhaltenden Krieg in der Ukraine "
            "mehr als 1.000 Container mit militärischer Ausrüstung und Munition an Russland geliefert habe.",
        ),
        ("002_8dc24f57d4033450", "Russland Der russische Aussenminister Sergej Lawrow ist nach Angaben russischer"),
        ("002_8dc24f57d4033450", "Lawrow besuchte Nordkorea zuletzt im Jahr 2018."),
        (
            "003_fc0805797345d969",
            "Seine Kollegin Choe Son Hui sprach laut russischer Übersetzung von einer «neuen Lebenskraft für "
            "die Beziehungen beider Länder».",
        ),
        ("003_fc0805797345d969", "Der Minister traf auf Kim selbst - für rund eine Stunde."),
        ("003_fc0805797345d969", "Foto: epa/Yonhap"),
        (
            "004_6896b54b9ced829e",
            "Das US-Präsidialamt hatte am Freitag seine Besorgnis darüber geäußert, dass Nordkorea Russland "
            "zwischen dem 7. September und dem 1. Oktober Waffen geliefert habe.",
        ),
    ],
)
def test_exact_seed_sentences(seeds, doc_id, sentence):
    assert sentence in sentences(seeds[doc_id].text)


def test_kalter_krieg_quote_stays_inside_its_sentence(seeds):
    found = [s for s in sentences(seeds["002_8dc24f57d4033450"].text) if "„neuen Kalten Krieg“" in s]
    assert len(found) == 1 and found[0].endswith("sagten nordkoreanische Staatsmedien.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Der Schaden liegt bei 5 Mio. Euro. Das ist viel.", ["Der Schaden liegt bei 5 Mio. Euro.", "Das ist viel."]),
        ("Es fehlen 2 Mrd. Dollar im Etat. Wer zahlt?", ["Es fehlen 2 Mrd. Dollar im Etat.", "Wer zahlt?"]),
        ("Viele Länder, z. B. Iran, liefern. Andere nicht.", ["Viele Länder, z. B. Iran, liefern.", "Andere nicht."]),
        ("Sie nannte z.B. Iran als Partner. Dann ging sie.", ["Sie nannte z.B. Iran als Partner.", "Dann ging sie."]),
        ("Dr. Müller sprach. Prof. Schmidt schwieg.", ["Dr. Müller sprach.", "Prof. Schmidt schwieg."]),
        ("Das Gesetz Nr. 5 gilt. Es ist neu.", ["Das Gesetz Nr. 5 gilt.", "Es ist neu."]),
        ("Am 3. Oktober feiert man. Danach nicht.", ["Am 3. Oktober feiert man.", "Danach nicht."]),
        ("Er wurde zum 2. Mal gewählt. Gut so.", ["Er wurde zum 2. Mal gewählt.", "Gut so."]),
        ("Die Zahl stieg auf 12. Die Polizei ermittelt.", ["Die Zahl stieg auf 12.", "Die Polizei ermittelt."]),
        ("Er sagte: „Wir kommen.“ Dann ging er.", ["Er sagte: „Wir kommen.“", "Dann ging er."]),
        ("»Wir bleiben«, sagte sie. »Sicher.«", ["»Wir bleiben«, sagte sie.", "»Sicher.«"]),
        ("Mr. Smith arrived in the U.S. on Monday. He left.", ["Mr. Smith arrived in the U.S. on Monday.", "He left."]),
        ("Wirklich? Ja! Gut.", ["Wirklich?", "Ja!", "Gut."]),
        ("Überschrift ohne Punkt\nDer Text beginnt hier.", ["Überschrift ohne Punkt", "Der Text beginnt hier."]),
        ("Ein Satz, der umbrochen\nwurde, bleibt ganz.", ["Ein Satz, der umbrochen\nwurde, bleibt ganz."]),
        ("  \n\n  ", []),
    ],
)
def test_german_and_english_traps(text, expected):
    assert sentences(text) == expected
