"""Run the engine over a question set and record, per question, what it answered, what it cited,
what retrieval found, how long it took, and the per-question metrics.

Each drafted answer's ``signals`` are those the answering chain recorded while deciding it
(``qa.answering.verify``: terms, judge, doubt, log-probabilities; ``qa.answering.chain``: the quote,
the question's type, retrieval), and those read from the cited articles' whole texts, which the chain
computes only for a calibrator that weighs them (``question_found``, ``subject_found``): these are
added here, after each answer (``qa.evaluation.signals``), so that ``qa calibrate`` and
``benchmarks/verification.py`` find them all."""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from index.errors import UserError
from index.language import detect_language, language_evidence
from index.located import LocatedSentence
from qa.answer import Answer
from qa.engine import Engine, QuestionError, open_engine
from qa.evaluation.metrics import compute_metrics, question_metrics
from qa.evaluation.report import ResultFiles, write_results
from qa.evaluation.signals import ArticleText, draft_signals
from qa.evaluation.squad import load_squad
from qa.settings import SEEDS

log = logging.getLogger(__name__)

#: Retrieval recall is reported at these depths; the deepest is how many sentences are recorded.
RECALL_AT = (1, 3, 5, 10)
_MARKERS = re.compile(r"\[\d+\]")
_CITATION_FIELDS = (
    "doc_id",
    "title",
    "sentence_index",
    "sentence",
    "start",
    "end",
    "score",
    "verdict",
    "evidence_start",
    "evidence_end",
    "evidence",
)


class QuestionSetError(UserError):
    """A question file that cannot be used; the message names the file and line."""


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Read a question set in the format of ``seeds/questions.jsonl``: one JSON object per line
    with ``id``, ``question``, ``answers``, ``gold`` and ``answerable``; ``language`` is detected
    from the question where it is missing."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QuestionSetError(f"no question file at {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionSetError(f"cannot read the question file {path}: {error}") from None
    questions: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise QuestionSetError(f"{path}, line {number}: not JSON ({error.msg})") from None
        questions.append(_checked(record, f"{path}, line {number}", seen))
    if not questions:
        raise QuestionSetError(f"{path} holds no questions")
    return questions


def _checked(record: Any, where: str, seen: set[str]) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise QuestionSetError(f"{where}: expected a JSON object")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionSetError(f"{where}: 'question' must be a non-empty string")
    answerable = record.get("answerable", True)
    answers = record.get("answers", [])
    gold = record.get("gold", [])
    if not isinstance(answerable, bool):
        raise QuestionSetError(f"{where}: 'answerable' must be true or false")
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise QuestionSetError(f"{where}: 'answers' must be a list of strings")
    if not isinstance(gold, list) or not all(
        isinstance(g, dict) and isinstance(g.get("doc"), str) and isinstance(g.get("sentence"), str) for g in gold
    ):
        raise QuestionSetError(f'{where}: \'gold\' must be a list of {{"doc", "sentence"}} objects')
    if answerable and not answers:
        raise QuestionSetError(f"{where}: an answerable question needs at least one accepted answer")
    identifier = str(record.get("id") or where.rsplit(" ", 1)[-1])
    if identifier in seen:
        raise QuestionSetError(f"{where}: the id '{identifier}' occurs twice")
    seen.add(identifier)
    language = record.get("language") or detect_language(question)
    return {
        **record,
        "id": identifier,
        "language": language,
        "answers": answers,
        "gold": gold,
        "answerable": answerable,
    }


def evaluate(engine: Engine, questions: Iterable[dict[str, Any]], progress: bool = True) -> list[dict[str, Any]]:
    """One prediction per question, in order, with every signal of each draft. The model loads, with
    its prompts' fixed starts, before the first question, so a backend that is down stops the run at
    once."""
    questions = list(questions)
    engine.ready_llm()
    predictions = []
    bar = tqdm(questions, desc="Evaluating", unit="question", disable=not progress)
    for expected in bar:
        try:
            predictions.append(predict(engine, expected, engine.article_text))
        except QuestionError as error:
            raise QuestionSetError(f"question {expected['id']}: {error}") from None
        bar.set_postfix_str(expected["id"])
    return predictions


def predict(engine: Engine, expected: dict[str, Any], article_text: ArticleText | None = None) -> dict[str, Any]:
    """Ask one question through the streaming path, timing the first piece and the whole answer.
    With ``article_text`` (``Engine.article_text``), the draft's signals read from the cited articles are
    recorded too; without, the chain's alone."""
    started = time.perf_counter()
    first: float | None = None
    answer: Answer | None = None
    for item in engine.stream(expected["question"]):
        if isinstance(item, Answer):
            answer = item
        elif first is None:
            first = time.perf_counter() - started
    latency = time.perf_counter() - started
    assert answer is not None
    retrieved = engine.retrieve(expected["question"], k=max(RECALL_AT))
    withheld = answer.withheld
    drafted = answer if answer.answerable else withheld
    confidence = drafted.confidence if drafted is not None else None
    prediction = {
        "id": expected["id"],
        "question": expected["question"],
        "language": expected["language"],
        "answer": answer.text,
        "answer_language": answer_language(answer.text),
        "answerable": answer.answerable,
        "citations": _citations(answer),
        "retrieved": [
            {"doc_id": h.doc_id, "sentence_index": h.sentence_index, "sentence": h.sentence, "also": _copies(h.also)}
            for h in retrieved
        ],
        "latency_s": round(latency, 3),
        "first_token_s": round(first if first is not None else latency, 3),
        "searched_as": answer.searched_as,
        "notes": answer.notes,
        "confidence": confidence,
        "signals": draft_signals(answer, article_text),
        "timings": answer.timings,
        "verified": answer.verified,
        "unsupported_claims": answer.unsupported_claims,
        "withheld": None
        if withheld is None
        else {"answer": withheld.text, "citations": _citations(withheld), "notes": withheld.notes},
        "expected": {key: expected[key] for key in ("answerable", "answers", "gold")},
        "articles": sorted({g["doc"] for g in expected["gold"]}),
    }
    scored = {**prediction, "language": prediction["answer_language"]}
    prediction["metrics"] = question_metrics(scored, expected, RECALL_AT)
    prediction["draft_metrics"] = _draft_metrics(prediction, withheld, expected)
    return prediction


def _citations(answer: Answer) -> list[dict[str, Any]]:
    return [
        {**{name: getattr(c, name) for name in _CITATION_FIELDS}, "also": _copies(c.also)} for c in answer.citations
    ]


def _copies(copies: Iterable[LocatedSentence]) -> list[dict[str, Any]]:
    """The same statement in other articles: a citation or hit of one of them counts for the others
    when matched against gold sentences."""
    return [{"doc_id": c.doc_id, "sentence_index": c.sentence_index, "sentence": c.sentence} for c in copies]


def _draft_metrics(prediction: dict[str, Any], withheld: Answer | None, expected: dict[str, Any]) -> dict | None:
    """The metrics of the drafted answer: the answer itself when it was given, the withheld draft,
    scored as though it had been shown, when the verifier refused it; None when nothing was drafted."""
    if prediction["answerable"]:
        return dict(prediction["metrics"])
    if withheld is None:
        return None
    draft = {
        **prediction,
        "answer": withheld.text,
        "answerable": True,
        "citations": prediction["withheld"]["citations"],
        "language": answer_language(withheld.text),
    }
    return question_metrics(draft, expected, RECALL_AT)


def answer_language(text: str) -> str | None:
    """The language the answer is written in; None for an answer too short to tell ("Wonsan.")."""
    text = _MARKERS.sub("", text)
    return detect_language(text) if any(language_evidence(text)) else None


@dataclass(slots=True)
class Evaluation:
    predictions: list[dict[str, Any]]
    metrics: dict[str, Any]
    run: dict[str, Any]
    files: ResultFiles


def run_evaluation(
    out_dir: Path,
    questions_file: Path | None = None,
    squad_file: Path | None = None,
    corpus: Path | None = None,
    index_dir: Path | None = None,
    limit: int | None = None,
    progress: bool = True,
    command: str = "qa eval",
    **settings: Any,
) -> Evaluation:
    """Evaluate the engine on a question set (the seeds' by default) or a SQuAD-format file, and
    write predictions, metrics, report and chart to ``out_dir``. Without ``index_dir`` the index
    lives in a temporary folder; a given one must be new, empty, or made by an earlier evaluation,
    because it is brought to match the corpus."""
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, not {limit}")
    if squad_file is not None and (questions_file is not None or corpus is not None):
        raise UserError("a SQuAD file brings its own questions and articles; give no question file or --corpus")
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        if squad_file is not None:
            squad = load_squad(Path(squad_file), Path(scratch) / "corpus")
            questions, corpus, source = squad.questions, Path(scratch) / "corpus", _shown(squad_file)
            if squad.skipped:
                log.warning("%d questions of %s skipped, first: %s", len(squad.skipped), source, squad.skipped[0])
        else:
            questions_file = Path(questions_file or SEEDS / "questions.jsonl")
            questions, source = load_questions(questions_file), _shown(questions_file)
            corpus = Path(corpus or SEEDS)
        questions = questions[:limit] if limit else questions
        index_dir = _evaluation_index(Path(index_dir) if index_dir else Path(scratch) / "index")
        with open_engine(corpus=corpus, index_dir=index_dir, **settings) as engine:
            documents = engine.documents()
            _warn_about_gold(questions, documents)
            started = time.perf_counter()
            predictions = evaluate(engine, questions, progress)
            metrics = compute_metrics(predictions, engine.settings.min_confidence)
            run = {
                "questions_file": source,
                "corpus": _shown(Path(squad_file or corpus)),
                "questions": len(questions),
                "model": engine.llm.description,
                "date": datetime.now().astimezone().isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - started, 1),
                "command": command,
                "settings": {name: str(getattr(engine.settings, name)) for name in _REPORTED_SETTINGS},
                "titles": {doc_id: document.title for doc_id, document in sorted(documents.items())},
            }
    files = write_results(Path(out_dir), predictions, metrics, run)
    return Evaluation(predictions, metrics, run, files)


_REPORTED_SETTINGS = (
    "llm",
    "llm_model",
    "llm_base_url",
    "embed_model",
    "chunk_tokens",
    "top_k",
    "prompt_sentences",
    "query_translation",
    "abstain_below",
    "abstain_below_translated",
    "min_support",
    "min_confidence",
    "unverified",
    "max_answer_tokens",
    "llm_threads",
    "llm_context",
)
_MARK = ".qa-eval"


def _shown(path: Path) -> str:
    """The path relative to the working folder where it lies inside it, so reports read the same on
    every machine."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _evaluation_index(folder: Path) -> Path:
    """Refuse an index that evaluation did not make: it is brought to match the evaluated corpus,
    which would remove the articles it holds."""
    if folder.exists() and any(folder.iterdir()) and not (folder / _MARK).exists():
        raise UserError(f"{folder} holds files that qa eval did not put there; give a new or empty --index folder")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _MARK).touch()
    return folder


def _warn_about_gold(questions: list[dict[str, Any]], documents: dict[str, Any]) -> None:
    missing = sorted({g["doc"] for q in questions for g in q["gold"] if g["doc"] not in documents})
    if missing:
        log.warning("gold documents not in the corpus, so never citable: %s", ", ".join(missing))
