from qa.support import missing_terms, names, numbers


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
