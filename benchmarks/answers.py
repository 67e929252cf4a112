"""Answer quality and speed on the fixed question set, with the configured LLM (the embedded model
by default), and a way to re-run the citation checks on recorded model replies.

    python benchmarks/answers.py [--questions seeds/questions.jsonl] [--limit N] [--ids ID ...]
                                 [--out FILE] [--record FILE | --replay FILE]

Scores with the same runner and metrics as ``qa eval``, prints the summary, and asserts that every
citation is the verbatim text of its document. ``--record`` keeps the model's replies per question;
``--replay`` answers with them instead of the model, so a change to the checks after the model can
be measured in seconds. The judge's probabilities are recorded with the replies; the model's doubt
when it chose its sources is not, so a replay leaves it out of the confidence.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import chosen_questions, machine  # noqa: E402

from qa import open_engine  # noqa: E402
from qa.evaluation.metrics import compute_metrics  # noqa: E402
from qa.evaluation.report import summary_text  # noqa: E402
from qa.evaluation.runner import predict  # noqa: E402
from qa.llm import TracesReplies, make_llm  # noqa: E402
from qa.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=ROOT / "seeds" / "questions.jsonl")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--ids", nargs="*", help="only these question ids")
    parser.add_argument("--out", type=Path, help="write the metrics and every prediction as JSON")
    parser.add_argument("--record", type=Path, help="save the model's raw replies, to replay them later")
    parser.add_argument("--replay", type=Path, help="answer with recorded replies instead of the model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    questions = chosen_questions(args.questions, args.ids, args.limit)

    recorder = _Recorder(None if args.replay else make_llm(Settings.load()), args.replay)
    with tempfile.TemporaryDirectory() as folder, open_engine(index_dir=folder, chat_model=recorder) as engine:
        documents = engine.documents()
        engine.ready_llm()
        predictions = []
        for question in tqdm(questions, desc="Answering", unit="question"):
            recorder.question_id = question["id"]
            predictions.append(predict(engine, question, engine.article_text))
        for prediction in predictions:
            for citation in prediction["citations"]:
                text = documents[citation["doc_id"]].text
                assert text[citation["start"] : citation["end"]] == citation["sentence"], citation
    if args.record:
        args.record.write_text(json.dumps(recorder.replies, ensure_ascii=False, indent=1))
    metrics = compute_metrics(predictions)
    print(summary_text(metrics))
    for p in predictions:
        passed = p["metrics"]["correct_and_gold_cited"] or p["metrics"]["abstention_correct"]
        if not passed:
            cited = [f"{c['doc_id'][:3]}:{c['sentence_index']}:{c['score']:.3f}" for c in p["citations"]]
            print(f"MISS {p['id']}: {p['question']}\n     -> {p['answer']}  {cited}  {p['notes']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = {"machine": machine(), "metrics": metrics, "predictions": predictions}
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1))


class _Recorder:
    """Passes calls to the model and keeps its replies per question, or plays recorded replies back."""

    def __init__(self, model, replay: Path | None):
        self.model = model
        self.recorded = json.loads(replay.read_text()) if replay else {}
        self.replies: dict[str, list[str]] = {}
        self.question_id = ""
        self.description = model.description if model else f"replies recorded in {replay}"

    def warm_up(self, prompts=()) -> None:
        if self.model is not None:
            self.model.warm_up(prompts)

    def judge(self, messages, yes, no):
        """The model's P(yes), recorded in the question's replies like a reply, or played back."""
        return float(self._next(lambda: self.model.judge(messages, yes, no)))

    def reply_trace(self):
        return self.model.reply_trace() if isinstance(self.model, TracesReplies) else None

    def _next(self, make):
        replies = self.replies.setdefault(self.question_id, [])
        reply = self.recorded[self.question_id][len(replies)] if self.model is None else make()
        replies.append(reply)
        return reply

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


if __name__ == "__main__":
    main()
