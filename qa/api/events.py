"""The engine's answer stream as server-sent events, from a worker thread to the event loop.

The engine streams from synchronous code that holds the model's lock while it generates. The stream
therefore runs in a thread of its own, which passes each item to the loop. When the client goes away,
the thread stops at the next piece and closes the stream, which releases the lock for the next
client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from typing import Any

from qa.answer import Answer, QuotePiece

log = logging.getLogger(__name__)

_END = object()


def event(name: str, data: dict[str, Any]) -> str:
    """One server-sent event: its name and one line of JSON."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_events(
    stream: Callable[[], Iterator[str | Answer]], describe: Callable[[BaseException], tuple[int, str]]
) -> AsyncIterator[str]:
    """``piece`` events ({"text": …}) as the model writes, then one ``answer`` event (the ``Answer`` as
    JSON), or one ``error`` event ({"error": …, "status": …}) when the answer cannot be given."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def put(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(items.put_nowait, item)
        except RuntimeError:  # the loop has closed: the server is shutting down
            stop.set()

    def work() -> None:
        try:
            with closing(stream()) as pieces:
                for item in pieces:
                    put(item)
                    if stop.is_set():
                        log.info("the client left; the answer was stopped")
                        return
        except BaseException as error:
            put(error)
        finally:
            put(_END)

    threading.Thread(target=work, name="qa-api-stream", daemon=True).start()
    try:
        while (item := await items.get()) is not _END:
            if isinstance(item, Answer):
                yield event("answer", item.to_dict())
            elif isinstance(item, QuotePiece):
                yield event("quote", {"text": item.text})
            elif isinstance(item, BaseException):
                status, message = describe(item)
                yield event("error", {"error": message, "status": status})
            else:
                yield event("piece", {"text": item})
    finally:
        stop.set()
