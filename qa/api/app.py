"""The HTTP JSON API (``qa serve``): the engine's faces as FastAPI routes under ``/api``.

It holds no answering logic. Answers run in worker threads on the one engine, so they share its model
and its lock with the chat page when both are served; at most ``chat_concurrency`` questions are
answered at once and the others wait their turn. With a login set (``QA_AUTH``), every route under
``/api`` asks for it as HTTP Basic authentication.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any, Literal

from anyio import to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field

from index.errors import IndexBusyError, UserError
from index.retrieval import SentenceHit
from qa.answer import Answer
from qa.api.events import answer_events
from qa.articles import ArticleInfo, ArticleLibrary
from qa.crosslingual import SearchQuery
from qa.engine import Engine, QuestionError
from qa.filters import MAX_SOURCES, FilterError
from qa.llm import LLMUnavailableError

log = logging.getLogger(__name__)

#: Turns of conversation a request may carry, and characters per message (the engine reads the last 3).
_MAX_TURNS = 40
_MAX_MESSAGE_CHARS = 20_000
_FAILED = "Something went wrong while answering; nothing was lost. The server log has the details."


class Message(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=_MAX_MESSAGE_CHARS)


class ArticleFilterFields(BaseModel):
    since: str | None = Field(
        None, description="Only articles dated on or after this day: 2023-10-05, 5.10.2023, or 2023-10 for a month."
    )
    until: str | None = Field(None, description="Only articles dated on or before this day.")
    sources: list[str] | None = Field(
        None, max_length=MAX_SOURCES, description="Only articles of these outlets (any case); see /api/outlets."
    )

    def article_filter(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "sources": self.sources}


class AskRequest(ArticleFilterFields):
    question: str = Field(description="The question, in German or English.", examples=["Wer traf Kim Jong Un?"])
    history: list[Message | tuple[str, str]] = Field(
        default_factory=list,
        max_length=_MAX_TURNS,
        description="The conversation so far: chat messages, or [question, answer] pairs.",
    )
    sentences: int | None = Field(None, description="How many retrieved sentences the model reads (1-20).")
    unverified: Literal["abstain", "mark"] | None = Field(
        None, description="An answer no cited sentence states: withhold it (abstain) or show it marked."
    )

    def turns(self) -> list[Any]:
        return [turn.model_dump() if isinstance(turn, Message) else turn for turn in self.history]


class RetrieveRequest(ArticleFilterFields):
    question: str = Field(examples=["Bis wann soll Lawrow in Nordkorea bleiben?"])
    k: int | None = Field(None, description="How many sentences (1-100; default 8).")


class Searched(BaseModel):
    """The sentences found, and the question as it was searched: an English question also in German."""

    query: SearchQuery
    hits: list[SentenceHit]


class OutletInfo(BaseModel):
    name: str
    articles: int


class DateSpanInfo(BaseModel):
    first: str | None = Field(description="The earliest date of an article (ISO), or None when none is dated.")
    last: str | None
    dated: int
    undated: int


class Outlets(BaseModel):
    """What ``since``, ``until`` and ``sources`` can choose from."""

    outlets: list[OutletInfo]
    dates: DateSpanInfo


class Health(BaseModel):
    status: Literal["ok"]
    model: str
    llm_ready: bool
    embed_model: str
    index: str
    articles: int
    sentences: int


def build_api(engine: Engine, library: ArticleLibrary | None = None) -> FastAPI:
    """The API over ``engine``; ``qa.chat.mount`` puts the chat page on it."""
    library = library or ArticleLibrary(engine)
    api = FastAPI(
        title="qa-news",
        summary="Cited question answering over German news articles.",
        description="Every answer cites the exact article sentences that state it.",
        docs_url="/docs",
        redoc_url=None,
    )
    answering = asyncio.Semaphore(engine.settings.chat_concurrency)
    login = _login(engine)
    api.add_middleware(_Failures)

    @api.exception_handler(UserError)
    async def user_error(request: Request, error: UserError) -> JSONResponse:
        status, message = describe(error)
        headers = {"WWW-Authenticate": 'Basic realm="qa-news"'} if status == 401 else None
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{_field(e['loc'])}: {e['msg']}" for e in error.errors()]
        return JSONResponse({"error": "the request is not valid: " + "; ".join(problems)}, status_code=422)

    @api.post("/api/ask", response_model=Answer, dependencies=[login], tags=["answers"])
    async def ask(request: AskRequest) -> JSONResponse:
        """The answer with its citations: document, verbatim sentence, offsets, verdict and evidence."""
        async with answering:
            answer = await to_thread.run_sync(
                lambda: engine.ask(
                    request.question,
                    request.turns(),
                    sentences=request.sentences,
                    unverified=request.unverified,
                    **request.article_filter(),
                )
            )
        return JSONResponse(answer.to_dict())

    @api.post(
        "/api/ask/stream",
        dependencies=[login],
        tags=["answers"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "quote, piece, then answer or error"}},
    )
    async def ask_stream(request: AskRequest) -> StreamingResponse:
        """Server-sent events: ``quote`` ({"text"}) as the model copies the words of its sentence that the
        answer is written from, then ``piece`` ({"text"}), the answer's text once it has passed its
        checks (or the abstention), then ``answer`` (the whole answer, as from /api/ask) or ``error``
        ({"error", "status"})."""
        # The question and settings are checked now, so that a bad request gets its status, not a stream.
        pieces = engine.stream(
            request.question,
            request.turns(),
            sentences=request.sentences,
            unverified=request.unverified,
            **request.article_filter(),
        )

        async def events() -> AsyncIterator[str]:
            async with answering:
                async for item in answer_events(lambda: pieces, describe):
                    yield item

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @api.post("/api/retrieve", response_model=Searched, dependencies=[login], tags=["retrieval"])
    async def retrieve(request: RetrieveRequest) -> JSONResponse:
        """The sentences that best answer the question, best first, with their scores; and the question
        as it was searched (``query.german``: an English question's German form, searched beside it)."""
        found = await to_thread.run_sync(
            lambda: engine.search(request.question, k=request.k, **request.article_filter())
        )
        return JSONResponse(found.to_dict())

    @api.get("/api/articles", response_model=list[ArticleInfo], dependencies=[login], tags=["articles"])
    async def articles() -> list[ArticleInfo]:
        """Every indexed article, sorted by title."""
        return await to_thread.run_sync(library.articles)

    @api.get("/api/outlets", response_model=Outlets, dependencies=[login], tags=["articles"])
    async def outlets() -> Outlets:
        """The outlets of the indexed articles with their article counts, and the span of their dates:
        what the ``sources``, ``since`` and ``until`` filters of /api/ask and /api/retrieve choose from."""
        found, span = await to_thread.run_sync(lambda: (engine.outlets(), engine.date_span()))
        return Outlets(
            outlets=[OutletInfo(name=outlet.name, articles=outlet.articles) for outlet in found],
            dates=DateSpanInfo(first=span.first, last=span.last, dated=span.dated, undated=span.undated),
        )

    @api.get("/api/health", response_model=Health, dependencies=[login], tags=["service"])
    async def health() -> Health:
        """Whether the service answers, with its model, index and article count."""
        snapshot = await to_thread.run_sync(engine.store.snapshot)
        return Health(
            status="ok",
            model=engine.llm.description,
            llm_ready=engine.llm_ready,
            embed_model=engine.settings.embed_model,
            index=engine.store.location,
            articles=len(snapshot.documents),
            sentences=sum(len(d.sentences) for d in snapshot.documents.values()),
        )

    return api


def describe(error: BaseException) -> tuple[int, str]:
    """The HTTP status and the one sentence a client is told for ``error``."""
    if isinstance(error, _Unauthorized):
        return 401, str(error)
    if isinstance(error, QuestionError | FilterError):
        return 422, str(error)
    if isinstance(error, LLMUnavailableError):
        return 503, str(error)
    if isinstance(error, IndexBusyError):
        return 409, str(error)
    if isinstance(error, UserError):
        return 400, str(error)
    log.error("answering failed", exc_info=error)
    return 500, _FAILED


class _Failures:
    """An unexpected failure becomes the one-sentence 500 reply, and the connection stays usable.
    (Starlette's handler for ``Exception`` answers too, but then raises again, and the server drops the
    kept-alive connection under the client's next request.)"""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            if started:  # too late for a reply of its own: the server ends the response
                raise
            status, message = describe(error)
            await JSONResponse({"error": message}, status_code=status)(scope, receive, send)


def _field(location: tuple) -> str:
    return ".".join(str(part) for part in location if part != "body") or "body"


def _login(engine: Engine) -> Any:
    """A dependency that asks for the login when one is set, and nothing otherwise."""
    expected = engine.settings.login
    basic = HTTPBasic(auto_error=False, realm="qa-news")

    def check(credentials: HTTPBasicCredentials | None = Depends(basic)) -> None:  # noqa: B008
        if expected is None:
            return
        given = (credentials.username, credentials.password) if credentials else ("", "")
        matches = [secrets.compare_digest(a.encode(), b.encode()) for a, b in zip(given, expected, strict=True)]
        if not all(matches):
            raise _Unauthorized()

    return Depends(check)


class _Unauthorized(UserError):
    def __init__(self) -> None:
        super().__init__("this server asks for a login: give the user and password of QA_AUTH")
