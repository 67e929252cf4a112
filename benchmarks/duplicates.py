"""Near-duplicate sentence groups at archive scale: how long the band keys and links take to make, for a
whole archive at once and for a few articles added to it, what they cost on disk, and how fast the
corpus builds its groups from them.

    .venv/bin/python benchmarks/duplicates.py [--articles 10000] [--added 100] [--seed 0]

The archive is ``benchmarks/archive_dump.py``'s (the seeds' sentences recombined and perturbed, 8 %
of stories as agency copy in several outlets): a hard case, as every one of the seeds' 100-odd
sentences recurs, lightly changed, in about one article in seven. No embedding is involved: the
documents are committed to a document store in a temporary folder with placeholder vector ids.

1. **whole**: ``group_sentences`` over all but the last ``--added`` articles (what the first
   ``qa index`` of an archive does), then the commit that writes documents, bands and links;
2. **added**: the last ``--added`` articles, their candidates looked up by band key in the store
   (what a later ``qa index`` does for new or changed files), and their commit;
3. **removed**: the commit that takes ``--added`` articles out again, with their bands and links;
4. **corpus**: the links read back and turned into groups (``Corpus`` does this per index change);
5. **disk**: the document store's size with and without the two tables.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from archive_dump import write_dump
from common import write_results

from index.docstore import DocumentStore, StoredDocument
from index.documents import Sentence
from index.duplicates import group_sentences
from index.loading import load_documents
from index.sentences import split_sentences
from index.snapshot import group_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--added", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-duplicates-") as scratch:
        folder = Path(scratch)
        dump = folder / "archive.jsonl"
        write_dump(dump, args.articles, args.seed)
        documents = load_documents([dump], 10**9).documents
        for document in documents:
            spans = split_sentences(document.text)
            document.sentences = [Sentence(document.doc_id, i, s.start, s.end) for i, s in enumerate(spans)]
        base, added = documents[: -args.added], documents[-args.added :]
        store = DocumentStore(folder / "documents.sqlite")

        started = time.perf_counter()
        whole = group_sentences(base, everything=True)
        group_s = time.perf_counter() - started
        started = time.perf_counter()
        store.commit([_stored(d) for d in base], [], {}, {}, whole)
        commit_s = time.perf_counter() - started

        started = time.perf_counter()
        more = group_sentences(added, store.sentences_with_keys, store.sentence_texts)
        added_group_s = time.perf_counter() - started
        started = time.perf_counter()
        store.commit([_stored(d) for d in added], [], {}, {}, more)
        added_commit_s = time.perf_counter() - started

        started = time.perf_counter()
        links = store.sentence_links()
        sentences = [(s.doc_id, s.index) for d in documents for s in d.sentences]
        groups = group_rows([_Row(doc_id, index) for doc_id, index in sentences], links)
        corpus_s = time.perf_counter() - started
        grouped = store.grouped_sentences()
        members = {id(rows): len(rows) for rows in groups.values()}

        started = time.perf_counter()
        store.commit([], [d.doc_id for d in added], {}, {})
        removed_s = time.perf_counter() - started
        store.close()
        with_tables, without, bands = _sizes(store.path, folder)

    summary = {
        "articles": len(documents),
        "sentences": len(sentences),
        "signed_sentences": len(whole.sentences) + len(more.sentences),
        "links": len(links),
        "grouped_sentences": grouped,
        "groups": len(members),
        "largest_group": max(members.values(), default=0),
        "whole_group_s": round(group_s, 1),
        "whole_commit_s": round(commit_s, 1),
        "added_articles": len(added),
        "added_group_s": round(added_group_s, 2),
        "added_commit_s": round(added_commit_s, 2),
        "removed_commit_s": round(removed_s, 2),
        "corpus_groups_s": round(corpus_s, 2),
        "band_rows_after_removal": bands,
        "store_mb": round(with_tables / 1e6, 1),
        "store_mb_without_groups": round(without / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    write_results("duplicates", summary, [])


class _Row:
    """What ``index.snapshot.group_rows`` reads of a sentence row."""

    __slots__ = ("doc_id", "index")

    def __init__(self, doc_id: str, index: int):
        self.doc_id, self.index = doc_id, index


def _stored(document) -> StoredDocument:
    ids = [f"{document.doc_id}:{s.index}" for s in document.sentences]
    return StoredDocument(document, [], ids, ids)


def _sizes(path: Path, folder: Path) -> tuple[int, int, int]:
    """The store's size compacted, the same without the two tables, and its band rows."""
    sizes = []
    for name, drop in (("with.sqlite", False), ("without.sqlite", True)):
        copy = folder / name
        with sqlite3.connect(path) as db:
            bands = db.execute("SELECT COUNT(*) FROM sentence_bands").fetchone()[0]
            db.execute("VACUUM INTO ?", (str(copy),))
        if drop:
            with sqlite3.connect(copy) as db:
                db.execute("DROP TABLE sentence_bands")
                db.execute("DROP TABLE sentence_links")
            with sqlite3.connect(copy) as db:
                db.execute("VACUUM")
        sizes.append(copy.stat().st_size)
    return sizes[0], sizes[1], bands


if __name__ == "__main__":
    sys.exit(main())
