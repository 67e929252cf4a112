import pytest

from qa.answering.support import lacks_asked_quantity, missing_terms, names, numbers, restates


def test_number_formats_are_one_number():
    assert numbers("mehr als 1.000 Container") == numbers("more than 1,000 containers") == numbers("1000") == {"1000"}
    assert numbers("1,2 Millionen") == numbers("1.2 million") == {"1.2"}
    assert numbers("am 7. September 2023") == {"7", "2023"}
    assert numbers("50 Millionen Dollar (rund 43 Millionen Euro)") == {"50", "43"}


def test_names_skip_sentence_openers_and_function_words():
    found = names("The minister met Kim Jong Un in Pyongyang. He thanked North Korea.")
    assert {"Kim", "Jong", "Un", "Pyongyang", "North", "Korea"} <= found
    assert "The" not in found and "He" not in found


def test_english_spellings_match_german_sources():
    sources = [
        "Lawrow traf Kim Jong-un in Pjöngjang am Sonntag.",
        "Nordkorea dankte Schoigu im Kosmodrom Wostotschny; Peskow und Netanjahu, Paschinjan, Alijew.",
        "Cherson, Saporischschja und das Weiße Haus in Peking.",
    ]
    answer = (
        "Lavrov met Kim Jong Un in Pyongyang on Sunday. North Korea thanked Shoigu in Vostochny; Peskov, Netanyahu, "
        "Pashinyan, Aliyev, Kherson, Zaporizhzhia, the White House and Beijing."
    )
    assert missing_terms(answer, sources) == []


def test_missing_numbers_and_names_are_reported_in_order():
    sources = ["Nordkorea lieferte mehr als 1.000 Container an Russland."]
    assert missing_terms("North Korea delivered 1,000 containers to Russia.", sources) == []
    assert missing_terms("Nordkorea lieferte 2.000 Container an Putin.", sources) == ["2000", "Putin"]


@pytest.mark.parametrize(
    "answer, question, expected",
    [
        (
            "The spokesperson commented on Lavrov's talks.",
            "Who is the spokesperson who commented on Lavrov's talks?",
            True,
        ),
        ("There was a phone exchange.", "At what level was there a phone exchange?", True),
        ("No date has been set.", "Has a date been set for the visit?", False),
        ("Wonsan.", "In welcher Stadt traf Lawrow seine Kollegin?", False),
        ("2018.", "In which year did Lavrov last visit?", False),
        ("Am Mittwoch begann Lawrow.", "An welchem Wochentag begann Lawrow?", False),
        ("Who was welcomed by North Koreans?", "How was Lavrov welcomed by North Koreans?", True),
        ("Wer traf Kim 2019?", "Wann traf Lawrow Kim?", True),
    ],
)
def test_an_answer_that_only_restates_the_question(answer, question, expected):
    assert restates(answer, question) is expected


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("Hamas fordert die Geiseln zurück.", True),
        ("Zwei Tage.", False),
        ("Sein zweitägiger Besuch.", False),
        ("A two-day visit.", False),
        ("Hunderte Menschen.", False),
        ("More than 1,000.", False),
    ],
)
def test_how_many_questions_need_a_number_in_digits_or_words(answer, expected):
    assert lacks_asked_quantity(answer, "Wie viele waren es?") is expected
    assert not lacks_asked_quantity(answer, "Wer war es?")
