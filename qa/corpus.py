"""An in-memory snapshot of the document store, shaped for retrieval: documents, chunks and
sentences as rows, and BM25 over both. Built once per index generation, not per question."""

from __future__ import annotations

from dataclasses import dataclass

from index.docstore import StoredDocument
from index.documents import Chunk, Document
from index.lexical import LexicalIndex, analyse


@dataclass(frozen=True, slots=True)
class SentenceRow:
    doc_id: str
    index: int
    vector_id: str
    chunk_row: int


class Corpus:
    def __init__(self, stored: list[StoredDocument], generation: int = 0):
        self.generation = generation
        self.documents: dict[str, Document] = {}
        self.chunks: list[Chunk] = []
        self.sentences: list[SentenceRow] = []
        self.chunk_sentence_rows: list[range] = []
        chunk_texts: list[list[str]] = []
        sentence_texts: list[list[str]] = []
        for item in stored:
            document = item.document
            self.documents[document.doc_id] = document
            first_row = len(self.chunks)
            chunk_rows = {chunk.chunk_id: first_row + i for i, chunk in enumerate(item.chunks)}
            sentence_base = len(self.sentences)
            for chunk in item.chunks:
                self.chunks.append(chunk)
                self.chunk_sentence_rows.append(
                    range(sentence_base + chunk.first_sentence, sentence_base + chunk.last_sentence + 1)
                )
                chunk_texts.append(analyse(chunk.text, document.language))
            for sentence, vector_id, chunk_id in zip(
                document.sentences, item.sentence_vector_ids, item.sentence_chunk_ids, strict=True
            ):
                self.sentences.append(SentenceRow(document.doc_id, sentence.index, vector_id, chunk_rows[chunk_id]))
                sentence_texts.append(analyse(document.sentence_text(sentence.index), document.language))
        self.chunk_row = {chunk.chunk_id: row for row, chunk in enumerate(self.chunks)}
        self.sentence_row = {s.vector_id: row for row, s in enumerate(self.sentences)}
        self.chunk_lexical = LexicalIndex(chunk_texts)
        self.sentence_lexical = LexicalIndex(sentence_texts)

    def __len__(self) -> int:
        return len(self.documents)

    def sentence_text(self, row: int) -> str:
        sentence = self.sentences[row]
        return self.documents[sentence.doc_id].sentence_text(sentence.index)
