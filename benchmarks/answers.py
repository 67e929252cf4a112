"""Answer quality and speed on the fixed question set, with the configured LLM (the embedded model
by default).

    python benchmarks/answers.py [--questions seeds/questions.jsonl] [--limit N] [--out FILE]

Prints, per language, the share of answerable questions answered correctly with a gold sentence
cited, the share of unanswerable questions that abstained, and seconds per answer and to the first
streamed piece. Every citation is checked against the text of its document.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import open_engine  # noqa: E402
from qa.answer import Answer  # noqa: E402
from qa.evaluation.metrics import answer_correct, gold_cited, percentile  # noqa: E402
from qa.llm import make_llm  # noqa: E402
from qa.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=ROOT / "seeds" / "questions.jsonl")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--ids", nargs="*", help="only these question ids")
    parser.add_argument("--out", type=Path, help="write the summary and every answer as JSON")
    parser.add_argument("--record", type=Path, help="save the model's raw replies, to replay them later")
    parser.add_argument("--replay", type=Path, help="answer with recorded replies instead of the model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.ids:
        questions = [q for q in questions if q["id"] in set(args.ids)]
    questions = questions[: args.limit] if args.limit else questions

    recorder = _Recorder(None if args.replay else make_llm(Settings.load()), args.replay)
    with tempfile.TemporaryDirectory() as folder, open_engine(index_dir=folder, chat_model=recorder) as engine:
        recorder.warm_up()
        corpus = engine.corpus()
        rows = []
        for question in tqdm(questions, desc="Answering", unit="question"):
            recorder.question_id = question["id"]
            started = time.perf_counter()
            first = None
            answer = None
            for item in engine.stream(question["question"]):
                if isinstance(item, Answer):
                    answer = item
                elif first is None:
                    first = time.perf_counter() - started
            assert answer is not None
            seconds = time.perf_counter() - started
            for citation in answer.citations:
                document = corpus.documents[citation.doc_id]
                assert document.text[citation.start : citation.end] == citation.sentence, citation
            rows.append(_score(question, answer, seconds, first if first is not None else seconds))
    if args.record:
        args.record.write_text(json.dumps(recorder.replies, ensure_ascii=False, indent=1))
    summary = summarise(rows)
    print(json.dumps(summary, indent=2))
    for row in rows:
        if not row["ok"]:
            print(f"MISS {row['id']}: {row['question']}\n     -> {row['answer']}  {row['cited']}  {row['notes']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, "answers": rows}, ensure_ascii=False, indent=1))


class _Recorder:
    """Passes calls to the model and keeps its replies per question, or plays recorded replies back,
    so that changes to the citation check can be measured without running the model again."""

    def __init__(self, model, replay: Path | None):
        self.model = model
        self.recorded = json.loads(replay.read_text()) if replay else {}
        self.replies: dict[str, list[str]] = {}
        self.question_id = ""
        self.description = model.description if model else f"replies recorded in {replay}"

    def warm_up(self) -> None:
        if self.model is not None:
            self.model.warm_up()

    def stream(self, messages, schema, max_tokens):
        replies = self.replies.setdefault(self.question_id, [])
        if self.model is None:
            reply = self.recorded[self.question_id][len(replies)]
            replies.append(reply)
            yield reply
            return
        pieces = []
        for piece in self.model.stream(messages, schema, max_tokens):
            pieces.append(piece)
            yield piece
        replies.append("".join(pieces))


def _score(question: dict, answer: Answer, seconds: float, first: float) -> dict:
    cited = [(c.doc_id, c.sentence) for c in answer.citations]
    gold = [(g["doc"], g["sentence"]) for g in question["gold"]]
    if question["answerable"]:
        correct = answer.answerable and answer_correct(answer.text, question["answers"])
        ok = correct and gold_cited(cited, gold)
    else:
        correct = ok = not answer.answerable
    return {
        "id": question["id"],
        "language": question["language"],
        "answerable": question["answerable"],
        "question": question["question"],
        "answer": answer.text,
        "abstained": not answer.answerable,
        "correct": correct,
        "ok": ok,
        "cited": [f"{c.doc_id[:3]}:{c.sentence_index}:{c.score:.3f}" for c in answer.citations],
        "notes": answer.notes,
        "seconds": round(seconds, 3),
        "first_token_s": round(first, 3),
    }


def summarise(rows: list[dict]) -> dict:
    summary: dict = {"questions": len(rows)}
    for language in ("de", "en"):
        answerable = [r for r in rows if r["language"] == language and r["answerable"]]
        summary[f"{language}_correct_and_gold_cited"] = _share(r["ok"] for r in answerable)
        summary[f"{language}_correct"] = _share(r["correct"] for r in answerable)
        summary[f"{language}_answerable"] = len(answerable)
    unanswerable = [r for r in rows if not r["answerable"]]
    answerable = [r for r in rows if r["answerable"]]
    summary["abstained_when_unanswerable"] = _share(r["abstained"] for r in unanswerable)
    summary["unanswerable"] = len(unanswerable)
    summary["abstained_when_answerable"] = _share(r["abstained"] for r in answerable)
    answered = [r["seconds"] for r in rows]
    firsts = [r["first_token_s"] for r in rows]
    summary.update(
        seconds_p50=round(percentile(answered, 50), 2),
        seconds_p95=round(percentile(answered, 95), 2),
        first_token_p50=round(percentile(firsts, 50), 2),
        first_token_p95=round(percentile(firsts, 95), 2),
    )
    return summary


def _share(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 3) if values else 0.0


if __name__ == "__main__":
    main()
