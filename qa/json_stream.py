"""Pull the text of one string field out of a JSON object while it is still being generated, so the
answer can be shown as it streams although the model writes JSON."""

from __future__ import annotations

import json
import re

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class StringFieldStream:
    def __init__(self, field: str):
        self._opening = re.compile(r'"' + re.escape(field) + r'"\s*:\s*"')
        self._buffer = ""
        self._position: int | None = None
        self.done = False

    def feed(self, piece: str) -> str:
        """Add raw model output; return the newly decoded characters of the field, if any."""
        self._buffer += piece
        if self.done:
            return ""
        if self._position is None:
            match = self._opening.search(self._buffer)
            if not match:
                return ""
            self._position = match.end()
        out = []
        buffer, i = self._buffer, self._position
        while i < len(buffer):
            char = buffer[i]
            if char == '"':
                self.done = True
                i += 1
                break
            if char != "\\":
                out.append(char)
                i += 1
                continue
            if i + 1 >= len(buffer):
                break
            code = buffer[i + 1]
            if code == "u":
                # A character outside the BMP is two escapes, a surrogate pair: decode them together.
                width = 12 if buffer[i + 2 : i + 4].lower() in ("d8", "d9", "da", "db") else 6
                if i + width > len(buffer):
                    break
                out.append(_unicode(buffer[i : i + width]))
                i += width
            else:
                out.append(_ESCAPES.get(code, code))
                i += 2
        self._position = i
        return "".join(out)


def _unicode(escape: str) -> str:
    try:
        return json.loads(f'"{escape}"')
    except json.JSONDecodeError:
        return ""
