"""The document store kept in a Chroma server, for an index that many processes and machines share.

With ``QA_CHROMA_HOST`` set, everything a reader needs lives in the server, in one collection beside
the vectors (``<prefix>_store``): each article's text, metadata, sentence table and chunks, the band
keys and links of near-duplicate sentences, and one ``meta`` record that holds the committed
generation. A server process needs no local folder; it reads what changed since its last reading.

Chroma has no transactions, so a commit is made of versioned records and one switch:

1. records left by a run that died (generation above the committed one) are deleted;
2. the new records are written, each tagged with the next generation ``g`` (an article as
   ``a:<doc>:<g>``, its band keys as ``b:<doc>:<g>``, a removal as ``r:<doc>``, the new links as
   ``l:<g>:<part>``): readers ignore them, as they read only generations they were told of;
3. the ``meta`` record is written with generation ``g``: one record, so readers see all of it or none;
4. the versions it replaced are deleted.

A reader compares the generation before and after it reads; when a commit came between, it reads the
difference again, so a version deleted in step 4 under it is replaced by the newer one.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.docstore import DocumentVersion, StoredDocument
from index.documents import Chunk, Document, Sentence
from index.duplicates import SentenceGroups, SentenceLink
from index.errors import UserError, guarded, storage_error

log = logging.getLogger(__name__)

ARTICLE, BANDS, REMOVED, LINKS, META = "article", "bands", "removed", "links", "meta"
#: Records read or written per request.
_PAGE = 500
#: Links per links record.
_LINKS_PER_RECORD = 20_000
#: Chroma wants a vector with every record; these records are found by id and metadata only.
_NO_VECTOR = [0.0]


def _problem(store: ServedDocumentStore, error: Exception) -> UserError:
    if isinstance(error, UserError):
        return error
    return storage_error(error, f"document store ({store.location})", store.path.parent)


_checked = guarded((Exception,), _problem)


@dataclass(slots=True)
class _Article:
    generation: int
    #: The generation its content was written in: a moved article's links and band keys stay its own.
    since: int
    stored: StoredDocument


@dataclass(slots=True)
class _State:
    """What a process has read of the server, up to ``generation`` of ``epoch``."""

    epoch: str = ""
    generation: int = 0
    articles: dict[str, _Article] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    #: (generation it was made in, link)
    links: list[tuple[int, SentenceLink]] = field(default_factory=list)
    #: Links made before this generation were replaced by a regrouping of the whole index.
    links_from: int = 0
    #: doc_id -> (generation, [(key, sentence index)]); read only by a process that asks for them.
    bands: dict[str, tuple[int, list[tuple[int, int]]]] | None = None


class ServedDocumentStore:
    """``index.docstore.DocumentStore``'s methods over a Chroma server (``client``)."""

    def __init__(self, client: Any, prefix: str, location: str):
        self.location = location
        self._client = client
        self._name = f"{prefix}_store"
        # The builder's lock file and messages name a folder: a local one, per server and collection.
        folder = (
            Path(tempfile.gettempdir())
            / "qa-news-served"
            / "".join(c if c.isalnum() else "-" for c in f"{location}-{prefix}")
        )
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "documents"
        self.folder = folder
        self._collection = self._open()
        self._state = _State()
        self._lock = threading.RLock()

    @_checked
    def _open(self) -> Any:
        return self._client.get_or_create_collection(self._name, embedding_function=None)

    def close(self) -> None:
        """Nothing to close: the server keeps the data."""

    # -- meta --------------------------------------------------------------------------------------

    @_checked
    def _meta(self) -> dict[str, str]:
        found = self._collection.get(ids=[META], include=["documents"])
        return json.loads(found["documents"][0]) if found["ids"] else {}

    def _put_meta(self, meta: dict[str, str]) -> None:
        self._upsert([(META, {"kind": META, "gen": 0}, json.dumps(meta))])

    def get_meta(self, key: str) -> str | None:
        return self._meta().get(key)

    def set_meta(self, key: str, value: str | None) -> None:
        with self._lock:
            meta = self._meta()
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
            self._put_meta(meta)

    @property
    def generation(self) -> int:
        """Grows with every committed change, and when the store is emptied; readers reload on a change."""
        return int(self._meta().get("generation") or 0)

    # -- reading -----------------------------------------------------------------------------------

    def _current(self) -> _State:
        """The state as of the committed generation: what changed since the last reading is read."""
        with self._lock:
            while True:
                meta = self._meta()
                generation, epoch = int(meta.get("generation") or 0), meta.get("epoch", "")
                state = self._state
                if epoch != state.epoch or generation < state.generation:
                    state = self._state = _State(epoch=epoch, bands={} if state.bands is not None else None)
                    self._read(state, 0, generation)
                elif generation > state.generation:
                    self._read(state, state.generation, generation)
                else:
                    return state
                state.generation = generation

    def _read(self, state: _State, after: int, upto: int, kinds: list[str] | None = None) -> None:
        if kinds is None:
            kinds = [ARTICLE, REMOVED, LINKS] + ([BANDS] if state.bands is not None else [])
        order = [ARTICLE, REMOVED, LINKS, BANDS]
        where = {"$and": [{"kind": {"$in": kinds}}, {"gen": {"$gt": after}}, {"gen": {"$lte": upto}}]}
        records = sorted(self._fetch(where), key=lambda r: (r[1]["gen"], order.index(r[1]["kind"])))
        _apply(state, records)

    @_checked
    def _fetch(self, where: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
        offset = 0
        while True:
            page = self._collection.get(where=where, include=["metadatas", "documents"], limit=_PAGE, offset=offset)
            yield from zip(page["ids"], page["metadatas"], page["documents"], strict=True)
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def versions(self) -> dict[str, DocumentVersion]:
        return {
            doc_id: DocumentVersion(a.stored.document.content_hash, a.stored.document.source)
            for doc_id, a in self._current().articles.items()
        }

    def vector_ids(self, doc_ids: list[str] | None = None) -> tuple[set[str], set[str]]:
        articles = self._current().articles
        chosen = articles.values() if doc_ids is None else [articles[d] for d in doc_ids if d in articles]
        chunks = {c.chunk_id for a in chosen for c in a.stored.chunks}
        return chunks, {v for a in chosen for v in a.stored.sentence_vector_ids}

    def load_all(self) -> list[StoredDocument]:
        articles = self._current().articles
        return [articles[doc_id].stored for doc_id in sorted(articles)]

    def sentence_texts(self, sentences: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
        articles = self._current().articles
        found = {}
        for doc_id, index in sentences:
            article = articles.get(doc_id)
            if article is not None and 0 <= index < len(article.stored.document.sentences):
                found[(doc_id, index)] = article.stored.document.sentence_text(index)
        return found

    def sentence_links(self) -> list[SentenceLink]:
        state = self._current()
        live = [link for made, link in state.links if _link_is_live(state, made, link)]
        return sorted(live, key=lambda k: (k.doc_id, k.index, k.other_doc, k.other_index))

    def grouped_sentences(self) -> int:
        links = self.sentence_links()
        return len({(k.doc_id, k.index) for k in links} | {(k.other_doc, k.other_index) for k in links})

    def sentences_with_keys(self, keys: list[int]) -> list[tuple[int, str, int]]:
        with self._lock:
            if self._state.bands is None:  # the first question of an indexing run: read every band
                self._state.bands = {}
                self._read(self._state, 0, self._state.generation, [BANDS])
            state = self._current()
            wanted = set(keys)
            rows = []
            for doc_id, (made, bands) in (state.bands or {}).items():
                article = state.articles.get(doc_id)
                if article is None or made < article.since:
                    continue
                rows += [(key, doc_id, index) for key, index in bands if key in wanted]
            return rows

    # -- writing -----------------------------------------------------------------------------------

    def commit(
        self,
        upserts: list[StoredDocument],
        removed: list[str],
        moved: dict[str, str],
        meta: dict[str, str | None],
        groups: SentenceGroups | None = None,
    ) -> None:
        """Write the new versions under the next generation, then switch to it in one record (see the
        module's docstring); a run that dies before the switch leaves the last generation in force."""
        with self._lock:
            state = self._current()
            generation = state.generation + 1
            self._delete_where({"gen": {"$gt": state.generation}})  # what a dead run left
            moved_articles = [
                (_moved(state.articles[doc_id].stored, source), state.articles[doc_id].since)
                for doc_id, source in moved.items()
                if doc_id in state.articles
            ]
            written = [(stored, generation) for stored in upserts] + moved_articles
            new = _commit_records(generation, written, removed, groups)
            self._upsert(new)
            stored_meta = self._meta()
            for key, value in meta.items():
                if value is None:
                    stored_meta.pop(key, None)
                else:
                    stored_meta[key] = value
            changed = upserts or removed or moved or (groups is not None and groups.everything)
            if changed:
                stored_meta["generation"] = str(generation)
                stored_meta.setdefault("epoch", uuid.uuid4().hex)
            self._put_meta(stored_meta)  # the switch
            if changed:
                self._delete_replaced(generation, new, set(moved))
                self._current()

    def clear(self) -> None:
        """Empty the store; readers see a new epoch and read it afresh."""
        with self._lock:
            generation = self.generation
            self._delete_where({"gen": {"$gte": 0}})  # every record; the collection stays for its readers
            self._put_meta({"generation": str(generation + 1), "epoch": uuid.uuid4().hex})

    @_checked
    def _upsert(self, records: list[tuple[str, dict[str, Any], str]]) -> None:
        for start in range(0, len(records), _PAGE):
            part = records[start : start + _PAGE]
            self._collection.upsert(
                ids=[r[0] for r in part],
                metadatas=[r[1] for r in part],
                documents=[r[2] for r in part],
                embeddings=[_NO_VECTOR] * len(part),
            )

    @_checked
    def _delete_where(self, where: dict[str, Any]) -> None:
        self._collection.delete(where=where)

    def _delete_replaced(self, generation: int, new: list[tuple[str, dict[str, Any], str]], moved: set[str]) -> None:
        """Delete the versions that the records of ``generation`` replace: older articles, and band keys
        of the documents it wrote anew or removed (a moved one keeps its own), and, after a regrouping
        of the whole index, older links."""
        docs = {metadata["doc"] for _, metadata, _ in new if metadata["kind"] in (ARTICLE, REMOVED)}
        older = {"gen": {"$lt": generation}}
        for kinds, chosen in (([ARTICLE], docs & moved), ([ARTICLE, BANDS], docs - moved)):
            ordered = sorted(chosen)
            for start in range(0, len(ordered), _PAGE):
                part = {"doc": {"$in": ordered[start : start + _PAGE]}}
                self._delete_where({"$and": [{"kind": {"$in": kinds}}, part, older]})
        if any(metadata["kind"] == LINKS and json.loads(body)["everything"] for _, metadata, body in new):
            self._delete_where({"$and": [{"kind": LINKS}, older]})


def _moved(stored: StoredDocument, source: str) -> StoredDocument:
    d = stored.document
    document = Document(
        d.doc_id, d.title, source, d.text, d.date, d.publisher, d.author, d.language, d.url, d.sentences
    )
    return StoredDocument(document, stored.chunks, stored.sentence_vector_ids, stored.sentence_chunk_ids)


def _link_is_live(state: _State, made: int, link: SentenceLink) -> bool:
    """A link counts while both its documents are the versions it was made for, and no regrouping of
    the whole index came after it."""
    if made < state.links_from:
        return False
    for doc_id in (link.doc_id, link.other_doc):
        article = state.articles.get(doc_id)
        if article is None or article.since > made:
            return False
    return True


# -- records ---------------------------------------------------------------------------------------


def _commit_records(
    generation: int, articles: list[tuple[StoredDocument, int]], removed: list[str], groups: SentenceGroups | None
) -> list[tuple[str, dict[str, Any], str]]:
    """The records of one commit; ``articles`` pairs each article with the generation of its content."""
    out = [
        (
            f"a:{s.document.doc_id}:{generation}",
            {"kind": ARTICLE, "gen": generation, "doc": s.document.doc_id, "since": since},
            json.dumps(_article_payload(s), ensure_ascii=False),
        )
        for s, since in articles
    ]
    out += [(f"r:{doc_id}", {"kind": REMOVED, "gen": generation, "doc": doc_id}, "") for doc_id in removed]
    if groups is None:
        return out
    bands: dict[str, list[tuple[int, int]]] = {}
    for key, doc_id, index in groups.band_rows():
        bands.setdefault(doc_id, []).append((key, index))
    out += [
        (f"b:{doc_id}:{generation}", {"kind": BANDS, "gen": generation, "doc": doc_id}, json.dumps(rows))
        for doc_id, rows in bands.items()
    ]
    links = [[k.doc_id, k.index, k.other_doc, k.other_index, k.similarity] for k in groups.links]
    parts = range(0, len(links), _LINKS_PER_RECORD) if links or groups.everything else range(0)
    for part, start in enumerate(parts):
        body = {"links": links[start : start + _LINKS_PER_RECORD], "everything": groups.everything}
        out.append((f"l:{generation}:{part}", {"kind": LINKS, "gen": generation}, json.dumps(body)))
    if groups.everything and not links:
        out.append(
            (f"l:{generation}:0", {"kind": LINKS, "gen": generation}, json.dumps({"links": [], "everything": True}))
        )
    return out


def _article_payload(stored: StoredDocument) -> dict[str, Any]:
    d = stored.document
    return {
        "title": d.title,
        "source": d.source,
        "text": d.text,
        "date": d.date,
        "publisher": d.publisher,
        "author": d.author,
        "language": d.language,
        "url": d.url,
        "sentences": [
            [s.start, s.end, chunk_id, vector_id]
            for s, chunk_id, vector_id in zip(
                d.sentences, stored.sentence_chunk_ids, stored.sentence_vector_ids, strict=True
            )
        ],
        "chunks": [[c.chunk_id, c.first_sentence, c.last_sentence, c.tokens] for c in stored.chunks],
    }


def _stored(doc_id: str, payload: dict[str, Any]) -> StoredDocument:
    rows = payload["sentences"]
    document = Document(
        doc_id,
        payload["title"],
        payload["source"],
        payload["text"],
        payload["date"],
        payload["publisher"],
        payload["author"],
        payload["language"],
        payload["url"],
        sentences=[Sentence(doc_id, i, row[0], row[1]) for i, row in enumerate(rows)],
    )
    text = document.text
    chunks = [
        Chunk(chunk_id, doc_id, first, last, text[rows[first][0] : rows[last][1]], tokens)
        for chunk_id, first, last, tokens in payload["chunks"]
    ]
    return StoredDocument(document, chunks, [row[3] for row in rows], [row[2] for row in rows])


def _apply(state: _State, records: Iterable[tuple[str, dict[str, Any], str]]) -> None:
    """Bring ``state`` forward by ``records``, in the order of their generations."""
    for _, metadata, body in records:
        kind, made, doc_id = metadata["kind"], metadata["gen"], metadata.get("doc")
        if kind == ARTICLE:
            known = state.articles.get(doc_id)
            if (known is None or known.generation < made) and state.removed.get(doc_id, 0) < made:
                state.articles[doc_id] = _Article(made, metadata["since"], _stored(doc_id, json.loads(body)))
        elif kind == REMOVED:
            state.removed[doc_id] = max(made, state.removed.get(doc_id, 0))
            known = state.articles.get(doc_id)
            if known is not None and known.generation < made:
                del state.articles[doc_id]
        elif kind == BANDS and state.bands is not None:
            if doc_id not in state.bands or state.bands[doc_id][0] < made:
                state.bands[doc_id] = (made, [(key, index) for key, index in json.loads(body)])
        elif kind == LINKS:
            content = json.loads(body)
            if content["everything"] and made > state.links_from:
                state.links_from = made
                state.links = [(m, k) for m, k in state.links if m >= made]
            state.links += [(made, SentenceLink(*row)) for row in content["links"]]
