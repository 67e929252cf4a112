"""The indexing run: load → sentences → chunks → embeddings → vector store + document store.

The files are read as a stream of articles, taken ``dump_batch`` at a time, so that a dump of any size
is indexed in bounded memory. Order of work, chosen so that a run killed at any point leaves the
index queryable (as of its last committed batch) and the next run finishes the job:
1. mark the run as pending;
2. for each batch: embed what is new and upsert it under content-addressed ids (never seen by readers
   yet), switch the document store to the batch's new state in one transaction (a generation of its
   own), and delete the vectors of the batch's documents that nothing refers to any more;
3. once every file is read: remove the documents whose files (or records) are gone, and clear the mark.
A run that finds the mark left behind removes, at its end, every vector the document store does not
know (after reusing those of the documents it indexes).
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from tqdm.auto import tqdm

from index.chunking import chunk_document
from index.docstore import DocumentStore, DocumentVersion, StoredDocument
from index.documents import Document, Sentence
from index.duplicates import _PER_KEY as ROWS_PER_KEY
from index.duplicates import META_KEY as GROUPS_KEY
from index.duplicates import PARAMETERS as GROUPING
from index.duplicates import SentenceGroups, group_sentences
from index.embeddings import embed_passages, embedder_key
from index.errors import IndexBusyError, IndexDamagedError, IndexMismatchError, storage_error
from index.loading import FileRecords, LoadResult, Skipped, stream_documents
from index.metadata import filter_metadata, is_current, migrate, record_current
from index.sentences import split_sentences
from index.vectors import CHUNKS, SENTENCES, VectorStore

log = logging.getLogger(__name__)

_WRITE_EVERY_S = 1.0
#: Articles read, embedded and committed at a time: what bounds the memory of indexing a large dump.
DUMP_BATCH = 1000
#: Band keys looked up in the document store at a time.
_KEYS_PER_LOOKUP = 500


@dataclass(slots=True)
class IndexReport:
    documents: int = 0
    sentences: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded_chunks: int = 0
    embedded_sentences: int = 0
    resumed_vectors: int = 0
    #: Sentences of the index that have a near-duplicate in another article (a group of 2 or more).
    grouped_sentences: int = 0
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Every dump or feed read, by path: how many records it holds and how many were skipped.
    records: dict[str, FileRecords] = field(default_factory=dict)

    @property
    def chunks_per_second(self) -> float:
        return self.embedded_chunks / self.seconds if self.seconds > 0 else 0.0

    @property
    def unindexed_files(self) -> list[str]:
        """Dumps and feeds that hold records none of which could be indexed."""
        return [path for path, counts in self.records.items() if counts.total and counts.skipped >= counts.total]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["chunks_per_second"] = round(self.chunks_per_second, 2)
        data["unindexed_files"] = self.unindexed_files
        return data


@dataclass(slots=True)
class _Pending:
    kind: str
    id: str
    text: str
    metadata: dict
    #: A chunk's sentence vector ids: their vectors make its own.
    parts: tuple[str, ...] = ()


class IndexBuilder:
    def __init__(
        self,
        docstore: DocumentStore,
        vectors: VectorStore,
        embedder: BaseEmbedding,
        embedder_name: str,
        chunk_tokens: int,
        max_file_bytes: int,
        batch_size: int = 32,
        write_batch: int = 512,
        dump_batch: int | None = None,
    ):
        self.docstore = docstore
        self.vectors = vectors
        self.embedder = embedder
        self.embedder_name = embedder_name
        self.chunk_tokens = chunk_tokens
        self.max_file_bytes = max_file_bytes
        self.batch_size = batch_size
        #: Vectors are written when this many sentence vectors wait, or a second after the last write:
        #: a Chroma upsert has a fixed cost of tens of milliseconds, which a fast embedder would pay
        #: per batch, and a killed run loses no more than about a second of embedding.
        self.write_batch = max(write_batch, batch_size)
        #: Articles read, embedded and committed at a time (``DUMP_BATCH`` unless given).
        self.dump_batch = max(dump_batch or DUMP_BATCH, 1)

    def update(
        self,
        paths: list[Path],
        progress: bool = False,
        rebuild: bool = False,
        fields: Mapping[str, str] | None = None,
    ) -> IndexReport:
        """Bring the index in line with the files under ``paths``; ``rebuild`` empties it first,
        for example to change the embedding model. ``fields`` maps a dump's column names."""
        started = time.perf_counter()
        with self._exclusive():
            if rebuild:
                self.vectors.reset()
                self.docstore.clear()
            report = self._update(paths, progress, fields)
        report.seconds = time.perf_counter() - started
        return report

    def migrate_metadata(self) -> None:
        """Give an index written before the date and outlet filters their metadata, in place."""
        with self._exclusive():
            if not is_current(self.docstore):
                migrate(self.docstore, self.vectors)

    def remove(self, doc_ids: list[str]) -> IndexReport:
        """Take the given documents out of the index, whatever their files; ids the index does not
        hold are ignored."""
        started = time.perf_counter()
        with self._exclusive():
            report = self._remove(doc_ids)
        report.seconds = time.perf_counter() - started
        return report

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        lock_path = self.docstore.path.parent / "index.lock"
        try:
            handle = open(lock_path, "w")  # noqa: SIM115 - closed below, after the run
        except OSError as error:
            raise storage_error(error, "lock file (index.lock)", lock_path.parent) from error
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise IndexBusyError(
                    f"another run is updating the index in {self.docstore.location}; wait for it to finish"
                ) from error
            yield

    def _update(self, paths: list[Path], progress: bool, fields: Mapping[str, str] | None) -> IndexReport:
        key = embedder_key(self.embedder_name)
        check_embedder(self.docstore, key)
        check_vectors(self.vectors, *self.docstore.vector_ids())
        versions = self.docstore.versions()
        run = _Run(
            meta={"embedder": key},
            interrupted=self.docstore.get_meta("pending") is not None,
            bar=_Progress(progress),
        )
        if not is_current(self.docstore) and not versions and not run.interrupted:
            record_current(self.docstore)  # every vector of a new index is written with its filter keys
        loaded = LoadResult()
        report = IndexReport(skipped=loaded.skipped, warnings=loaded.warnings, records=loaded.records)
        seen: set[str] = set()
        with run.bar:
            for batch in _batches(stream_documents(paths, self.max_file_bytes, fields, loaded), self.dump_batch):
                seen.update(document.doc_id for document in batch)
                self._index_batch(batch, versions, report, run)
                del batch  # before the next one is read
        removed = _deleted_files(paths, versions, seen, loaded)
        report.removed = len(removed)
        if removed or run.interrupted or self.docstore.get_meta(GROUPS_KEY) != GROUPING.key:
            self._mark(run)
            self._switch([], removed, {}, run.meta, run.interrupted)
        elif run.marked:
            self.docstore.set_meta("pending", None)
        if not is_current(self.docstore):
            # The vectors of an index from before the date and outlet filters get their metadata.
            migrate(self.docstore, self.vectors)
        return self._totals(report)

    def _index_batch(
        self, batch: list[Document], versions: dict[str, DocumentVersion], report: IndexReport, run: _Run
    ) -> None:
        """Classify, embed and commit one batch of articles, as a generation of its own."""
        changed, moved = self._classify(batch, versions, report)
        if not changed and not moved:
            return
        plans = [self._plan(document) for document in changed]
        self._mark(run)
        self._embed(plans, report, run.bar)
        self._switch(plans, [], moved, run.meta, interrupted=False, final=False)
        log.info("committed a batch of %d articles (%d changed)", len(batch), len(plans))

    def _mark(self, run: _Run) -> None:
        if not run.marked:
            self.docstore.set_meta("pending", "1")
            run.marked = True

    def _remove(self, doc_ids: list[str]) -> IndexReport:
        report = IndexReport()
        versions = self.docstore.versions()
        removed = sorted({doc_id for doc_id in doc_ids if doc_id in versions})
        interrupted = self.docstore.get_meta("pending") is not None
        if removed or interrupted:
            self.docstore.set_meta("pending", "1")
            self._switch([], removed, {}, {}, interrupted)
        report.removed = len(removed)
        return self._totals(report)

    def _switch(
        self,
        plans: list[StoredDocument],
        removed: list[str],
        moved: dict[str, str],
        meta: dict[str, str | None],
        interrupted: bool,
        final: bool = True,
    ) -> None:
        """Commit the new state of these documents to the document store, with the near-duplicate links
        of the changed documents, then delete the vectors nothing refers to any more (after an
        interrupted run: every vector the store does not know); a ``final`` switch clears the mark."""
        doc_ids = [p.document.doc_id for p in plans] + removed
        stale_chunks, stale_sentences = self.docstore.vector_ids(doc_ids)
        groups = self._group(plans, removed)
        self.docstore.commit(plans, removed, moved, {**meta, GROUPS_KEY: GROUPING.key}, groups)
        # A vector id starts with its document's id: those of other documents cannot be among the stale.
        live_chunks, live_sentences = self.docstore.vector_ids(None if interrupted else doc_ids)
        if interrupted:
            stale_chunks |= self.vectors.all_ids(CHUNKS)
            stale_sentences |= self.vectors.all_ids(SENTENCES)
        self.vectors.delete(CHUNKS, sorted(stale_chunks - live_chunks))
        self.vectors.delete(SENTENCES, sorted(stale_sentences - live_sentences))
        if final:
            self.docstore.set_meta("pending", None)

    def _group(self, plans: list[StoredDocument], removed: list[str]) -> SentenceGroups:
        """Band keys and near-duplicate links of the changed documents' sentences, found among each
        other and, by their band keys, among the stored sentences of the other documents. An index
        whose links were made otherwise (or not at all) has them made again, for every document."""
        changing = {plan.document.doc_id for plan in plans} | set(removed)
        if self.docstore.get_meta(GROUPS_KEY) != GROUPING.key:
            kept = [item.document for item in self.docstore.load_all() if item.document.doc_id not in changing]
            return group_sentences(kept + [plan.document for plan in plans], everything=True)

        def lookup(keys: list[int]) -> Iterator[tuple[int, str, int]]:
            return _stored_rows(self.docstore, keys, changing)

        return group_sentences([plan.document for plan in plans], lookup, self.docstore.sentence_texts)

    def _totals(self, report: IndexReport) -> IndexReport:
        chunks, sentences = self.docstore.vector_ids()
        report.documents = len(self.docstore.versions())
        report.chunks, report.sentences = len(chunks), len(sentences)
        report.grouped_sentences = self.docstore.grouped_sentences()
        return report

    def _classify(
        self, documents: list[Document], versions: dict[str, DocumentVersion], report: IndexReport
    ) -> tuple[list[Document], dict[str, str]]:
        changed: list[Document] = []
        moved: dict[str, str] = {}
        for document in documents:
            known = versions.get(document.doc_id)
            if known is None:
                report.added += 1
            elif known.content_hash == document.content_hash:
                report.unchanged += 1
                if known.source != document.source and not Path(known.source).exists():
                    moved[document.doc_id] = document.source
                continue
            elif known.source != document.source and Path(known.source).exists():
                reason = f"same document id '{document.doc_id}' as {known.source} in the index; rename one"
                report.skipped.append(Skipped(document.source, reason))
                if (counts := report.records.get(document.source)) is not None:
                    counts.skipped += 1
                continue
            else:
                report.updated += 1
            document.sentences = [
                Sentence(document.doc_id, i, span.start, span.end)
                for i, span in enumerate(split_sentences(document.text))
            ]
            changed.append(document)
        return changed, moved

    def _plan(self, document: Document) -> StoredDocument:
        chunks = chunk_document(document, self.chunk_tokens)
        chunk_of = {i: chunk.chunk_id for chunk in chunks for i in range(chunk.first_sentence, chunk.last_sentence + 1)}
        sentence_ids = [document.vector_id("s", s.index, s.index) for s in document.sentences]
        return StoredDocument(document, chunks, sentence_ids, [chunk_of[s.index] for s in document.sentences])

    def _embed(self, plans: list[StoredDocument], report: IndexReport, bar: _Progress) -> None:
        """Embed the sentences not stored yet; a new chunk's vector is the length-weighted mean of its
        sentences' vectors. On the retrieval questions that recalls as well as embedding the chunk
        text, at half the embedding work (every sentence would otherwise be embedded twice)."""
        todo = list(_pending_vectors(plans))
        present = {
            kind: self.vectors.existing(kind, [p.id for p in todo if p.kind == kind]) for kind in (CHUNKS, SENTENCES)
        }
        chunks = [p for p in todo if p.kind == CHUNKS and p.id not in present[CHUNKS]]
        # A chunk still to be made needs all its sentences' vectors: those an interrupted run wrote are
        # embedded again rather than read back, as a killed run may have left them half written.
        needed = {part for chunk in chunks for part in chunk.parts}
        sentences = [p for p in todo if p.kind == SENTENCES and (p.id not in present[SENTENCES] or p.id in needed)]
        report.resumed_vectors += len(todo) - len(sentences) - len(chunks)
        weights = {p.id: float(len(p.text)) for p in todo if p.kind == SENTENCES}
        vectors: dict[str, np.ndarray] = {}
        waiting = deque(chunks)  # in document order, like the sentences
        unwritten: list[_Pending] = []
        ready: list[_Pending] = []
        written_at = time.perf_counter()
        bar.expect(len(sentences))
        for start in range(0, len(sentences), self.batch_size):
            batch = sentences[start : start + self.batch_size]
            new = embed_passages(self.embedder, [p.text for p in batch])
            vectors.update((pending.id, vector) for pending, vector in zip(batch, new, strict=True))
            unwritten += batch
            while waiting and all(part in vectors for part in waiting[0].parts):
                ready.append(waiting.popleft())
            report.embedded_sentences += len(batch)
            # Written as it goes, so that a run killed here resumes from what it wrote; the bar
            # counts what is written.
            if len(unwritten) >= self.write_batch or time.perf_counter() - written_at >= _WRITE_EVERY_S:
                self._write(unwritten, ready, vectors, weights)
                bar.update(len(unwritten))
                unwritten, ready, written_at = [], [], time.perf_counter()
        self._write(unwritten, ready + list(waiting), vectors, weights)
        bar.update(len(unwritten))
        report.embedded_chunks += len(chunks)

    def _write(
        self,
        sentences: list[_Pending],
        chunks: list[_Pending],
        vectors: dict[str, np.ndarray],
        weights: dict[str, float],
    ) -> None:
        if sentences:
            sentence_vectors = np.stack([vectors[p.id] for p in sentences])
            self.vectors.upsert(SENTENCES, [p.id for p in sentences], sentence_vectors, [p.metadata for p in sentences])
        if chunks:
            means = np.stack([_mean(chunk.parts, vectors, weights) for chunk in chunks])
            metadata, texts = [c.metadata for c in chunks], [c.text for c in chunks]
            self.vectors.upsert(CHUNKS, [c.id for c in chunks], means, metadata, texts)
            for chunk in chunks:  # a sentence belongs to one chunk: its vector is not needed again
                for part in chunk.parts:
                    vectors.pop(part, None)


def _mean(parts: tuple[str, ...], vectors: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The unit vector of the length-weighted mean of the sentence vectors ``parts``."""
    mean = np.asarray([weights[part] for part in parts], dtype=np.float32) @ np.stack([vectors[p] for p in parts])
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def check_embedder(docstore: DocumentStore, key: str) -> None:
    built_with = docstore.get_meta("embedder")
    if built_with and built_with != key:
        raise IndexMismatchError(
            f"the index in {docstore.location} was built with embedding model '{built_with}', "
            f"not '{key}'; rebuild it (qa index --rebuild) or choose another index folder"
        )


def check_vectors(vectors: VectorStore, chunk_ids: set[str], sentence_ids: set[str]) -> None:
    """The vector store must hold a vector for every chunk and sentence the document store lists. A
    Chroma folder from another version (which this one opens as empty) or one swapped in from
    another index does not."""
    needed = {CHUNKS: chunk_ids, SENTENCES: sentence_ids}
    for kind, ids in needed.items():
        held = vectors.count(kind)
        if held < len(ids):
            raise IndexDamagedError(
                f"the {vectors.location} holds {held} {kind.rstrip('s')} vectors where the index needs "
                f"{len(ids)}: it was written by another version of Chroma or belongs to another index; rebuild "
                "the index with 'qa index --rebuild PATH…', or use another folder with --index"
            )


def _pending_vectors(plans: list[StoredDocument]) -> Iterator[_Pending]:
    for plan in plans:
        document = plan.document
        extra = {key: value for key in ("date", "publisher") if (value := getattr(document, key))}
        # Both collections carry the filter keys, so that a date or outlet filter is applied by the
        # vector store itself, before the nearest are taken.
        filters = filter_metadata(document.date, document.publisher)
        for chunk in plan.chunks:
            metadata = {
                "doc_id": document.doc_id,
                "title": document.title,
                "first_sentence": chunk.first_sentence,
                "last_sentence": chunk.last_sentence,
                **extra,
                **filters,
            }
            parts = tuple(plan.sentence_vector_ids[chunk.first_sentence : chunk.last_sentence + 1])
            yield _Pending(CHUNKS, chunk.chunk_id, chunk.text, metadata, parts)
        for sentence, vector_id, chunk_id in zip(
            document.sentences, plan.sentence_vector_ids, plan.sentence_chunk_ids, strict=True
        ):
            metadata = {"doc_id": document.doc_id, "sentence_index": sentence.index, "chunk_id": chunk_id, **filters}
            yield _Pending(SENTENCES, vector_id, document.sentence_text(sentence.index), metadata)


def _deleted_files(
    paths: list[Path], versions: dict[str, DocumentVersion], seen: set[str], loaded: LoadResult
) -> list[str]:
    """Documents whose file lay under one of the indexed paths and is gone now, and records that the
    dump or feed they came from no longer holds; ``seen`` holds the ids of every article read."""
    roots = [path.resolve() for path in paths]
    removed = []
    for doc_id, version in versions.items():
        source = Path(version.source)
        if doc_id in seen:
            continue
        dropped = version.source in loaded.archives and doc_id not in loaded.present
        gone = not source.exists() and any(source == root or root in source.parents for root in roots)
        if dropped or gone:
            removed.append(doc_id)
    return sorted(removed)


def _stored_rows(docstore: DocumentStore, keys: list[int], changing: set[str]) -> Iterator[tuple[int, str, int]]:
    """The stored sentences with one of the band ``keys`` (of documents not ``changing``), as
    ``index.duplicates`` takes them: the first ``ROWS_PER_KEY`` of each key. Looked up a part of the keys
    at a time, so that a line of boilerplate that thousands of stored articles share costs no more
    memory as the index grows."""
    taken: Counter[int] = Counter()
    names: dict[str, str] = {}  # one string per document id, however many of its rows are held
    for start in range(0, len(keys), _KEYS_PER_LOOKUP):
        for key, doc_id, index in docstore.sentences_with_keys(keys[start : start + _KEYS_PER_LOOKUP]):
            if doc_id not in changing and taken[key] < ROWS_PER_KEY:
                taken[key] += 1
                yield key, names.setdefault(doc_id, doc_id), index


def _batches(documents: Iterator[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for document in documents:
        batch.append(document)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(slots=True)
class _Run:
    """What one indexing run carries from batch to batch."""

    meta: dict[str, str | None]
    interrupted: bool
    bar: _Progress
    #: Whether this run has marked the index as pending.
    marked: bool = False


class _Progress:
    """One bar over a run's embedding; its total grows as each batch's sentences become known."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: tqdm | None = None

    def expect(self, count: int) -> None:
        if not self.enabled or not count:
            return
        if self.bar is None:
            self.bar = tqdm(total=count, desc="Embedding", unit="sentence")
        else:
            self.bar.total += count
            self.bar.refresh()

    def update(self, count: int) -> None:
        if self.bar is not None and count:
            self.bar.update(count)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
