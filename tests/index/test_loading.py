"""Article discovery, safe reading and decoding: real files in ``tmp_path`` and the seed articles."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.documents import Document
from index.loading import LoadError, LoadResult, Skipped, decode, discover, load_document, load_documents

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
LIMIT = 1_000_000
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
GOOD = "Der Minister sprach am Montag in Berlin über die Lage."


def write(path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def relative(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in paths]


def documents(result: LoadResult) -> dict[str, Document]:
    return {document.doc_id: document for document in result.documents}


def reasons(result: LoadResult) -> dict[str, str]:
    return {Path(skip.path).name: skip.reason for skip in result.skipped}


def load_one(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Document:
    document, _ = load_document(write(tmp_path / name, content, encoding), LIMIT)
    return document


# --- discover ---------------------------------------------------------------------------------


def test_discover_walks_folders_recursively_and_keeps_supported_suffixes(tmp_path: Path) -> None:
    supported = ["a.txt", "b.MD", "c.markdown", "d.Html", "e.htm", "f.pdf", "g.jsonl", "h.CSV", "i.tsv", "j.rss"]
    for name in [*supported, "k.atom", "l.xml", "sub/deeper/f.TXT", "sub/g.md"]:
        write(tmp_path / name, GOOD)
    for name in ["h.doc", "i.json", "README", "j.txt.bak", "sub/k.docx"]:
        write(tmp_path / name, GOOD)

    files, skipped = discover([tmp_path])

    assert relative(files, tmp_path) == [
        "a.txt",
        "b.MD",
        "c.markdown",
        "d.Html",
        "e.htm",
        "f.pdf",
        "g.jsonl",
        "h.CSV",
        "i.tsv",
        "j.rss",
        "k.atom",
        "l.xml",
        "sub/deeper/f.TXT",
        "sub/g.md",
    ]
    assert skipped == []  # unsupported files inside a folder are passed over silently


def test_discover_ignores_hidden_folders_and_files(tmp_path: Path) -> None:
    write(tmp_path / "visible.txt", GOOD)
    write(tmp_path / ".draft.txt", GOOD)
    write(tmp_path / ".git" / "notes.md", GOOD)
    write(tmp_path / "sub" / ".cache" / "page.html", GOOD)
    write(tmp_path / "sub" / "kept.md", GOOD)

    files, _ = discover([tmp_path])

    assert relative(files, tmp_path) == ["sub/kept.md", "visible.txt"]


def test_discover_searches_a_folder_that_itself_lies_below_a_hidden_one(tmp_path: Path) -> None:
    folder = tmp_path / ".data" / "articles"
    write(folder / "one.txt", GOOD)

    files, _ = discover([folder])

    assert relative(files, folder) == ["one.txt"]


def test_discover_order_is_sorted_and_stable(tmp_path: Path) -> None:
    for name in ["z.txt", "m/b.md", "a.txt", "m/a.html"]:  # created out of order
        write(tmp_path / name, GOOD)

    first, _ = discover([tmp_path])
    second, _ = discover([tmp_path])

    assert relative(first, tmp_path) == ["a.txt", "m/a.html", "m/b.md", "z.txt"]
    assert first == second


def test_discover_follows_argument_order_and_lists_each_file_once(tmp_path: Path) -> None:
    write(tmp_path / "b" / "two.txt", GOOD)
    inside_a = write(tmp_path / "a" / "one.txt", GOOD)

    files, _ = discover([tmp_path / "b", tmp_path / "a", inside_a, tmp_path / "b"])

    assert relative(files, tmp_path) == ["b/two.txt", "a/one.txt"]


def test_discover_reports_missing_and_unsupported_paths_given_directly(tmp_path: Path) -> None:
    pdf = write(tmp_path / "scan.docx", b"PK\x03\x04")
    upper = write(tmp_path / "NOTE.TXT", GOOD)
    missing = tmp_path / "nowhere"

    files, skipped = discover([missing, pdf, upper])

    assert files == [upper.resolve()]
    assert skipped == [
        Skipped(str(missing), "no such file or folder"),
        Skipped(str(pdf), "unsupported file type '.docx'"),
    ]


# --- load_documents / load_document -----------------------------------------------------------


def test_doc_id_is_the_file_stem_and_each_format_is_parsed(tmp_path: Path) -> None:
    write(tmp_path / "plain-001.txt", f"{GOOD}\n\n(Reuters)")
    write(tmp_path / "notes.md", f"# Gipfel in Berlin\n\n{GOOD}")
    write(tmp_path / "sub" / "page.HTML", f"<title>Seitentitel</title><p>{GOOD}</p>")

    result = load_documents([tmp_path], LIMIT)

    found = documents(result)
    assert sorted(found) == ["notes", "page", "plain-001"]
    assert found["plain-001"].publisher == "Reuters"
    assert found["plain-001"].source == str((tmp_path / "plain-001.txt").resolve())
    assert found["notes"].title == "Gipfel in Berlin"
    assert found["notes"].text == f"Gipfel in Berlin\n\n{GOOD}"
    assert (found["page"].title, found["page"].text) == ("Seitentitel", GOOD)
    assert {d.language for d in found.values()} == {"de"}
    assert result.skipped == [] and result.warnings == []


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "file is empty"),
        ("blank.txt", b"  \n\t\r\n   \n", "file is empty"),
        ("image.txt", PNG_HEADER, "file is binary, not text"),
        ("controls.txt", bytes(range(1, 9)) * 20, "file is binary, not text"),
        ("menu.html", b"<nav>Start | Politik</nav><script>var a = 1;</script>", "file has no article text"),
    ],
)
def test_unusable_file_is_skipped_with_a_reason_and_others_still_load(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    write(tmp_path / "good.txt", GOOD)
    write(tmp_path / name, content)

    result = load_documents([tmp_path], LIMIT)

    assert reasons(result) == {name: reason}
    assert [d.doc_id for d in result.documents] == ["good"]
    assert result.documents[0].text == GOOD


def test_file_over_the_size_limit_is_skipped_but_one_at_the_limit_loads(tmp_path: Path) -> None:
    write(tmp_path / "at-limit.txt", "a" * 100)
    write(tmp_path / "too-big.txt", "b" * 101)

    result = load_documents([tmp_path], max_bytes=100)

    assert [d.doc_id for d in result.documents] == ["at-limit"]
    assert reasons(result) == {"too-big.txt": "file is 101 bytes, over the limit of 100 bytes"}


def test_load_document_raises_for_an_unreadable_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="cannot read file"):
        load_document(tmp_path / "missing.txt", LIMIT)
    with pytest.raises(LoadError, match="file is empty"):
        load_document(write(tmp_path / "empty.txt", ""), LIMIT)


def test_cp1252_file_keeps_its_umlauts_and_warns(tmp_path: Path) -> None:
    legacy = write(tmp_path / "legacy.txt", "Außenminister Größe sprach über Öl.", encoding="cp1252")
    write(tmp_path / "modern.txt", "Außenminister Größe sprach über Öl.")

    result = load_documents([tmp_path], LIMIT)

    assert [d.text for d in result.documents] == ["Außenminister Größe sprach über Öl."] * 2
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(f"{legacy.resolve()}: ")
    assert "not valid UTF-8" in result.warnings[0] and "cp1252" in result.warnings[0]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_files_with_a_byte_order_mark_load_without_warning(tmp_path: Path, encoding: str) -> None:
    content = "Die Größe der Übung überraschte.\n\nZweiter Absatz."
    raw = ("\ufeff" + content if encoding in {"utf-16-le", "utf-16-be"} else content).encode(encoding)

    document, warning = load_document(write(tmp_path / "bom.txt", raw), LIMIT)

    assert document.text == content
    assert warning is None


def test_line_endings_become_lf_and_text_is_nfc(tmp_path: Path) -> None:
    document = load_one(tmp_path, "mixed.txt", "Erste Zeile.\r\nZweite Zeile.\rDritte Zeile mit Gru\u0308n.\r\n")

    assert document.text == "Erste Zeile.\nZweite Zeile.\nDritte Zeile mit Grün."


def test_same_stem_in_two_folders_skips_the_second_with_the_id(tmp_path: Path) -> None:
    first = write(tmp_path / "a" / "bericht.txt", "Erste Fassung des Berichts.")
    write(tmp_path / "b" / "bericht.md", "Zweite Fassung des Berichts.")

    result = load_documents([tmp_path], LIMIT)

    assert [(d.doc_id, d.text) for d in result.documents] == [("bericht", "Erste Fassung des Berichts.")]
    [skip] = result.skipped
    assert skip.path == str((tmp_path / "b" / "bericht.md").resolve())
    assert "'bericht'" in skip.reason and str(first.resolve()) in skip.reason


# --- decode -----------------------------------------------------------------------------------


def test_decode_handles_utf8_and_legacy_encodings() -> None:
    assert decode("Grüße".encode()) == ("Grüße", None)
    text, warning = decode("Müller €".encode("cp1252"))
    assert text == "Müller €" and warning is not None and "cp1252" in warning
    # 0x81 is undefined in cp1252, so the bytes are read as latin-1 instead.
    text, warning = decode(b"Die Stra\xdfe ist lang und breit, sagte er am Montag \x81 in Bonn.")
    assert text.startswith("Die Straße ist lang") and warning is not None


def test_decode_rejects_utf16_without_a_byte_order_mark() -> None:
    with pytest.raises(LoadError, match="binary"):
        decode("Ohne Markierung".encode("utf-16-le"))


# --- the seed articles ------------------------------------------------------------------------

SEED_EXPECTATIONS = {
    "000": (
        "Zudem sprach Lawrow bei eine Telefonkonferenz mit dem iranischen Aussenminister Hossein Amir-Abdollahian.",
        None,
        "Reuters",
        None,
    ),
    "001": (
        "Deutsche Tageszeitung - Russischer Außenminister Lawrow trifft Nordkoreas Machthaber Kim Jong Un",
        None,
        "DTZ",
        "P.Vasilyevsky",
    ),
    "002": (
        "Russland: Der russische Außenminister Sergej Lawrow ist nach Angaben russischer Staatsmedien "
        "in Nordkorea eingetroffen",
        None,
        "toi-allgemeines",
        None,
    ),
    "004": ("Offenbar ist auch ein Putin-Besuch in Pjöngjang in Vorbereitung.", "2023-10", None, None),
}


@pytest.fixture(scope="module")
def seeds() -> dict[str, Document]:
    result = load_documents([SEEDS], LIMIT)
    assert result.skipped == [] and result.warnings == []
    return {document.doc_id[:3]: document for document in result.documents}


def test_all_five_seeds_load_in_german_with_their_stems_as_ids(seeds: dict[str, Document]) -> None:
    assert sorted(seeds) == ["000", "001", "002", "003", "004"]
    assert {d.doc_id: d.language for d in seeds.values()} == {p.stem: "de" for p in SEEDS.glob("*.txt")}


@pytest.mark.parametrize("prefix", sorted(SEED_EXPECTATIONS))
def test_seed_metadata(seeds: dict[str, Document], prefix: str) -> None:
    document = seeds[prefix]
    assert (document.title, document.date, document.publisher, document.author) == SEED_EXPECTATIONS[prefix]


def test_seed_003_has_a_shortened_title_and_its_date(seeds: dict[str, Document]) -> None:
    document = seeds["003"]
    assert document.title.startswith("Reporter warten an der Wiedervereinigungsbrücke, nachdem Nordkorea")
    assert document.title.endswith(" …") and len(document.title) <= 142
    assert document.date == "2023-10"


@pytest.mark.parametrize(("prefix", "start"), [("003", "Reporter warten"), ("004", "Offenbar ist")])
def test_seed_date_marker_is_removed_from_the_text(seeds: dict[str, Document], prefix: str, start: str) -> None:
    text = seeds[prefix].text
    assert text.startswith(start)
    assert "date 2023-10" not in text
    raw = next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")
    assert raw.startswith(" date 2023-10 " + start)
