"""Near-duplicate sentences across articles: one statement that several outlets print, lightly edited.

A sentence of at least ``min_words`` words becomes a set of word shingles (``shingle`` consecutive
words) of its normalised text: case folded, "ä"/"ae", "ö"/"oe", "ü"/"ue" and "ß"/"ss" as one,
accents dropped, quotes and other punctuation gone (so «…», „…“ and "…" are alike), and "1.000" as
"1000". Its MinHash signature (datasketch, ``permutations`` hash functions) is cut into ``bands``
bands; each band hashes to one key (the band's number mixed in), and sentences that share a
key are candidates. The keys live in the document store (``sentence_bands``), so the candidates of
a changed document are found by one indexed lookup, however large the index.

A candidate pair is linked only when the exact shingle sets have a Jaccard similarity of at least
``jaccard``. Containment (the smaller set inside the larger) is not enough: a sentence that a
scraper ran together with a headline contains both, and would join two statements' groups into one
(on a 10,000-article archive it chained thousands of sentences). A pair in which each side has a
number or a capitalised word (a name, in German also a noun) that the other lacks is never linked:
"Lawrow soll bis Sonntag bleiben" and "Iwanow soll bis Montag bleiben" share most words but not the
statement. Sentences of one document are never linked to each other. Links (``sentence_links``) are
the edges from which ``index.snapshot.Snapshot`` makes groups (union-find); a new sentence gets the links
that join groups and a few more (``max_links``), not one to every copy, so a line of boilerplate that
thousands of articles share does not become millions of links.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from datasketch import MinHash

from index.documents import Document

#: The meta key under which the document store records the parameters its bands and links were made
#: with; other parameters (or another MinHash implementation) make the next run compute them again.
META_KEY = "sentence_groups"

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_THOUSANDS = re.compile(r"(?<=\d)[.,'’](?=\d{3}(?!\d))")
_TOKEN = re.compile(r"[^\W_]+")
#: Pairs found inside one indexing batch: each sentence is compared with this many others that share
#: a band key with it (all of them unless a key is shared by more).
_WINDOW = 32
#: Stored sentences looked at per band key (the first ones); a key shared by more is boilerplate.
_PER_KEY = 64
#: Stored sentences compared with a new sentence: those that share the most band keys with it.
_PER_CLASS = 16
#: Sentences signed at a time, which bounds the memory of a first build of a large archive.
_BATCH = 2048


@dataclass(frozen=True, slots=True)
class GroupingParameters:
    """How sentences are signed, compared and linked; chosen by hand-judged pairs (docs/usage.md, "One story,
    many outlets")."""

    shingle: int = 2
    permutations: int = 60
    bands: int = 20
    min_words: int = 6
    jaccard: float = 0.6
    max_links: int = 4

    @property
    def rows(self) -> int:
        return self.permutations // self.bands

    @property
    def key(self) -> str:
        """The parameters and a probe signature: a datasketch release that hashes differently changes it."""
        return (
            f"minhash-v1 shingle={self.shingle} perm={self.permutations} bands={self.bands} "
            f"min_words={self.min_words} jaccard={self.jaccard} links={self.max_links} "
            f"probe={_probe(self.permutations)}"
        )


PARAMETERS = GroupingParameters()


@cache
def _probe(permutations: int) -> str:
    signature = MinHash.bulk([[b"probe"]], num_perm=permutations)[0].hashvalues
    return hashlib.blake2b(np.asarray(signature, dtype=np.uint64).tobytes(), digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class SentenceLink:
    """Two sentences of different documents that state the same thing; stored once, in this order:
    ``(doc_id, index) < (other_doc, other_index)``."""

    doc_id: str
    index: int
    other_doc: str
    other_index: int
    #: Jaccard similarity of the two shingle sets.
    similarity: float


@dataclass(slots=True)
class SentenceGroups:
    """What an indexing run writes to the near-duplicate tables, with the documents it commits."""

    #: (doc_id, sentence index) of each signed sentence, and its row of band keys in ``keys``.
    sentences: list[tuple[str, int]] = field(default_factory=list)
    keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    links: list[SentenceLink] = field(default_factory=list)
    #: True when these are the bands and links of the whole index (they replace all stored ones).
    everything: bool = False

    def band_rows(self) -> Iterator[tuple[int, str, int]]:
        """(key, doc_id, index) rows, produced as they are written."""
        for (doc_id, index), keys in zip(self.sentences, self.keys, strict=True):
            for key in keys.tolist():
                yield key, doc_id, index

    def documents(self) -> Iterator[str]:
        """The documents whose sentences have band keys here, in order (with repeats)."""
        return (doc_id for doc_id, _ in self.sentences)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the exact check compares: the shingle set, how often each normalised word occurs, and how
    often each number and capitalised word (names, German nouns) does, which a substitution must not
    touch. Counted, so that "vom 1. bis 1. Oktober" and "vom 7. bis 1. Oktober" differ."""

    shingles: frozenset[str]
    words: Counter[str]
    marked: Counter[str]


def normalise(text: str) -> str:
    """Case folded, umlauts and ß spelled out, accents dropped, thousands separators removed."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _THOUSANDS.sub("", text)


def words(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


def fingerprint(text: str, parameters: GroupingParameters = PARAMETERS) -> Fingerprint | None:
    """None for a sentence too short to group."""
    tokens = words(text)
    if len(tokens) < parameters.min_words:
        return None
    n = parameters.shingle
    shingles = frozenset(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return Fingerprint(shingles, Counter(tokens), Counter(_marked(text)))


def _marked(text: str) -> Iterator[str]:
    """Normalised numbers and capitalised words; the exact check compares them with every word of the
    other sentence, so a capital that only opens a sentence or a quotation does no harm."""
    for token in _TOKEN.findall(_THOUSANDS.sub("", unicodedata.normalize("NFKC", text))):
        if token[0].isdigit() or token[0].isupper():
            yield normalise(token)


def similarity(a: Fingerprint, b: Fingerprint, parameters: GroupingParameters = PARAMETERS) -> float | None:
    """The Jaccard similarity of two sentences that state the same thing, or None when they do not
    (too different, or a number or name substituted)."""
    shared = len(a.shingles & b.shingles)
    if not shared:
        return None
    jaccard = shared / (len(a.shingles) + len(b.shingles) - shared)
    if jaccard < parameters.jaccard:
        return None
    if _lacks(a, b) and _lacks(b, a):  # each has a number or name the other lacks: a substitution
        return None
    return jaccard


def _lacks(a: Fingerprint, b: Fingerprint) -> bool:
    """``a`` has a number or capitalised word more often than ``b`` has that word."""
    return any(count > b.words.get(word, 0) for word, count in a.marked.items())


def band_keys(fingerprints: list[Fingerprint], parameters: GroupingParameters = PARAMETERS) -> np.ndarray:
    """One row of ``bands`` keys per fingerprint: 47-bit, which SQLite stores in 6 bytes; a chance
    collision only adds a candidate that the exact check drops."""
    if not fingerprints:
        return np.zeros((0, parameters.bands), dtype=np.int64)
    signatures = MinHash.bulk(
        ([s.encode("utf-8") for s in sorted(f.shingles)] for f in fingerprints), num_perm=parameters.permutations
    )
    values = np.stack([np.asarray(s.hashvalues, dtype=np.uint64) for s in signatures])
    rows = parameters.rows
    keys = np.empty((len(fingerprints), parameters.bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(parameters.bands):
            key = np.full(len(fingerprints), _mix(np.uint64(band + 1)), dtype=np.uint64)
            for column in values[:, band * rows : (band + 1) * rows].T:
                key = _mix(key ^ column)
            keys[:, band] = key
    return (keys >> np.uint64(17)).astype(np.int64)


def _mix(x: np.ndarray | np.uint64) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves about half of the output bits."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


#: Stored sentences by band key: ``lookup(keys)`` gives (key, doc_id, index) rows, ``texts(pairs)``
#: the verbatim text of (doc_id, index) pairs.
Lookup = Callable[[list[int]], Iterable[tuple[int, str, int]]]
Texts = Callable[[list[tuple[str, int]]], dict[tuple[str, int], str]]


def group_sentences(
    documents: list[Document],
    lookup: Lookup | None = None,
    texts: Texts | None = None,
    parameters: GroupingParameters = PARAMETERS,
    everything: bool = False,
) -> SentenceGroups:
    """Band keys for the sentences of ``documents``, and their links: to each other, and, through
    ``lookup`` and ``texts``, to the sentences the store holds (which must not include older versions
    of ``documents``). ``everything`` marks the result as the whole index's.

    Sentences with the same shingles (verbatim copies, as agency copy mostly is) form one class: the
    class is signed and compared once, and its members are linked to each other directly."""
    sentences: list[tuple[str, int]] = []
    classes: dict[frozenset[str], _Class] = {}
    for document in documents:
        for sentence in document.sentences:
            found = fingerprint(document.sentence_text(sentence.index), parameters)
            if found is not None:
                key = (document.doc_id, sentence.index)
                sentences.append(key)
                classes.setdefault(found.shingles, _Class(found)).new.append(key)
    new = list(classes.values())
    class_keys = np.concatenate(
        [band_keys([c.fingerprint for c in new[i : i + _BATCH]], parameters) for i in range(0, len(new), _BATCH)]
        or [np.zeros((0, parameters.bands), dtype=np.int64)]
    )
    row = {key: i for i, c in enumerate(new) for key in c.new}
    keys = class_keys[[row[key] for key in sentences]] if sentences else class_keys
    pairs: dict[tuple[int, int], float] = {}
    for i, j in _batch_pairs(class_keys):
        if (value := similarity(new[i].fingerprint, new[j].fingerprint, parameters)) is not None:
            pairs[(i, j)] = value
    nodes: list[_Class] = list(new)
    if lookup is not None and texts is not None and new:
        for i, stored in _stored_classes(class_keys, classes, lookup, texts, parameters):
            if (value := similarity(new[i].fingerprint, stored.fingerprint, parameters)) is not None:
                pairs[(i, len(nodes))] = value
                nodes.append(stored)
    links = _class_links(new, parameters.max_links) + _pair_links(nodes, pairs, len(new), parameters.max_links)
    links = sorted(set(links), key=lambda link: (link.doc_id, link.index, link.other_doc, link.other_index))
    return SentenceGroups(sentences, keys, links, everything)


@dataclass(slots=True)
class _Class:
    """Sentences with one shingle set: new ones, and stored ones that a lookup found."""

    fingerprint: Fingerprint
    new: list[tuple[str, int]] = field(default_factory=list)
    stored: list[tuple[str, int]] = field(default_factory=list)


def _batch_pairs(keys: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of rows that share a band key; each row is paired with at most
    ``_WINDOW`` others per key."""
    if len(keys) < 2:
        return []
    flat = keys.ravel()
    owner = np.repeat(np.arange(len(keys), dtype=np.int64), keys.shape[1])
    order = np.argsort(flat, kind="stable")
    flat, owner = flat[order], owner[order]
    found = []
    for offset in range(1, min(_WINDOW, len(flat) - 1) + 1):
        same = flat[offset:] == flat[:-offset]
        if not same.any():
            break
        a, b = owner[:-offset][same], owner[offset:][same]
        found.append(np.minimum(a, b) * len(keys) + np.maximum(a, b))
    if not found:
        return []
    codes = np.unique(np.concatenate(found))
    return [(code // len(keys), code % len(keys)) for code in codes.tolist() if code // len(keys) != code % len(keys)]


def _stored_classes(
    keys: np.ndarray,
    classes: dict[frozenset[str], _Class],
    lookup: Lookup,
    texts: Texts,
    parameters: GroupingParameters,
) -> Iterator[tuple[int, _Class]]:
    """(new class, stored class) for each class of stored sentences that shares a band key with a new
    class; stored sentences with a new class's very shingles join that class instead."""
    rows = keys.tolist()
    found: dict[int, list[tuple[str, int]]] = {}
    for key, doc_id, index in lookup(sorted({key for row in rows for key in row})):
        held = found.setdefault(key, [])
        if len(held) < _PER_KEY:
            held.append((doc_id, index))
    # Per new class, the stored sentences that share the most band keys with it: the most similar.
    candidates: dict[int, list[tuple[str, int]]] = {}
    for i, row in enumerate(rows):
        shared = Counter(sentence for key in row for sentence in found.get(key, ()))
        candidates[i] = [sentence for sentence, _ in shared.most_common(_PER_CLASS)]
    wanted = sorted({sentence for held in candidates.values() for sentence in held})
    stored: dict[frozenset[str], _Class] = {}
    class_of: dict[tuple[str, int], frozenset[str]] = {}
    for sentence, text in texts(wanted).items():
        if (printed := fingerprint(text, parameters)) is None:
            continue
        class_of[sentence] = printed.shingles
        if printed.shingles in classes:
            classes[printed.shingles].stored.append(sentence)
        else:
            stored.setdefault(printed.shingles, _Class(printed)).stored.append(sentence)
    new = list(classes.values())
    pairs = {
        (i, class_of[sentence])
        for i, held in candidates.items()
        for sentence in held
        if sentence in class_of and class_of[sentence] in stored
    }
    for i, shingles in sorted(pairs, key=lambda pair: (pair[0], sorted(stored[pair[1]].stored))):
        if new[i].fingerprint.shingles != shingles:
            yield i, stored[shingles]


def _class_links(classes: list[_Class], cap: int) -> list[SentenceLink]:
    """Within a class: each new sentence to at most ``cap`` of the sentences before it (stored ones
    first) in other documents."""
    links = []
    for found in classes:
        members = found.stored + found.new
        for position in range(len(found.stored), len(members)):
            mine = members[position]
            partners = [
                other for other in reversed(members[max(0, position - 4 * cap) : position]) if other[0] != mine[0]
            ]
            links += [_link(mine, other, 1.0) for other in partners[:cap]]
    return links


def _pair_links(nodes: list[_Class], pairs: dict[tuple[int, int], float], new: int, cap: int) -> list[SentenceLink]:
    """Between classes, most similar first: every verified pair that joins two groups (so that a group
    is as connected as the verified pairs make it), and more until each new class has ``cap``, so that
    removing one article rarely splits a group. Each kept pair links two of its sentences, in
    different documents. Equals come in an order fixed by a checksum, so a large group is linked
    across rather than in a chain."""
    parent = list(range(len(nodes)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    count = [0] * len(nodes)
    links: list[SentenceLink] = []
    for (i, j), value in sorted(pairs.items(), key=lambda item: (-item[1], zlib.crc32(repr(item[0]).encode()))):
        ri, rj = root(i), root(j)
        if ri == rj and all(count[end] >= cap for end in (i, j) if end < new):
            continue
        made = _member_links(nodes[i], nodes[j], value)
        if not made:
            continue
        parent[ri] = rj
        count[i] += 1
        count[j] += 1
        links += made
    return links


def _member_links(a: _Class, b: _Class, value: float) -> list[SentenceLink]:
    """Up to two links between the sentences of two classes, in different documents, each with a new
    sentence at one end at least."""
    links: list[SentenceLink] = []
    used: set[tuple[str, int]] = set()
    fresh = set(a.new) | set(b.new)
    for x in a.new + a.stored:
        for y in b.new + b.stored:
            if x[0] != y[0] and (x in fresh or y in fresh) and x not in used and y not in used:
                links.append(_link(x, y, value))
                used.update((x, y))
                break
        if len(links) == 2:
            break
    return links


def _link(a: tuple[str, int], b: tuple[str, int], value: float) -> SentenceLink:
    first, second = sorted((a, b))
    return SentenceLink(first[0], first[1], second[0], second[1], round(value, 4))
