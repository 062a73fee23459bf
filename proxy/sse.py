"""Server-sent events: an incremental parser and the three framings providers use.

Pure functions, no I/O. The parser takes raw bytes as they arrive (an event
may be split across reads, lines may end in ``\\n``, ``\\r\\n`` or ``\\r``) and
returns whole events. :class:`JsonArrayParser` reads the other streaming
shape Gemini has (``streamGenerateContent`` without ``alt=sse``: one JSON
array, element by element).
"""

from __future__ import annotations

from typing import Any

import orjson


class SSEParser:
    """Bytes in, ``(event name or None, data text)`` pairs out."""

    __slots__ = ("_buf", "_event", "_data")

    def __init__(self) -> None:
        self._buf = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        data = self._buf + chunk
        out: list[tuple[str | None, str]] = []
        start = 0
        n = len(data)
        while start < n:
            cr, lf = data.find(b"\r", start), data.find(b"\n", start)
            if cr < 0 and lf < 0:
                break
            if cr >= 0 and (lf < 0 or cr < lf):
                if cr + 1 == n:            # a lone \r at the end: maybe half of \r\n
                    break
                end, nxt = cr, cr + 2 if data[cr + 1:cr + 2] == b"\n" else cr + 1
            else:
                end, nxt = lf, lf + 1
            self._line(data[start:end].decode("utf-8", "replace"), out)
            start = nxt
        self._buf = data[start:]
        return out

    def finish(self) -> list[tuple[str | None, str]]:
        out: list[tuple[str | None, str]] = []
        if self._buf:
            self._line(self._buf.decode("utf-8", "replace"), out)
            self._buf = b""
        self._line("", out)
        return out

    def _line(self, line: str, out: list[tuple[str | None, str]]) -> None:
        if not line:
            if self._data or self._event is not None:
                out.append((self._event, "\n".join(self._data)))
            self._event, self._data = None, []
            return
        if line[0] == ":":
            return
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)


class JsonArrayParser:
    """Elements of a streamed top-level JSON array (``[{..}\\n,{..}\\n]``), as parsed objects."""

    __slots__ = ("_buf", "_depth", "_in_str", "_esc", "_start", "_pos")

    def __init__(self) -> None:
        self._buf = b""
        self._depth = 0
        self._in_str = False
        self._esc = False
        self._start = -1
        self._pos = 0

    def feed(self, chunk: bytes) -> list[Any]:
        self._buf += chunk
        out: list[Any] = []
        buf, i = self._buf, self._pos
        while i < len(buf):
            c = buf[i]
            if self._in_str:
                if self._esc:
                    self._esc = False
                elif c == 0x5C:            # backslash
                    self._esc = True
                elif c == 0x22:
                    self._in_str = False
            elif c == 0x22:
                self._in_str = True
            elif c in (0x7B, 0x5B):        # { [
                if c == 0x7B and self._depth == 1 and self._start < 0:
                    self._start = i
                self._depth += 1
            elif c in (0x7D, 0x5D):
                self._depth -= 1
                if c == 0x7D and self._depth == 1 and self._start >= 0:
                    out.append(orjson.loads(buf[self._start:i + 1]))
                    self._start = -1
            i += 1
        if self._start >= 0:
            self._buf, self._pos = buf[self._start:], i - self._start
            self._start = 0
        else:
            self._buf, self._pos = b"", 0
        return out


class WholeEvents:
    """Passes SSE bytes on up to the last complete event (a blank line) only, so a stream
    cut mid-event never leaves the client half an event; :meth:`flush` gives the rest."""

    __slots__ = ("pending",)
    #: with nothing pending, whole events pass unchanged (see ExchangeStream.feed)
    passes_whole_events = True

    def __init__(self) -> None:
        self.pending = b""

    def __call__(self, chunk: bytes) -> bytes:
        data = self.pending + chunk if self.pending else chunk
        if data.endswith((b"\n\n", b"\r\n\r\n")):      # the usual case: reads end on events
            self.pending = b""
            return data
        lf, crlf = data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n")
        cut = max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
        self.pending = data[cut:]
        return data[:cut]

    def flush(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest


class WholeElements:
    """The same for a streamed JSON array (Gemini without ``alt=sse``, elements separated by
    ``\n,``): passes on the elements known whole (followed by a separator, or ending in a
    closing ``}`` line); :meth:`flush` gives the rest, closed with ``]`` if it is not."""

    __slots__ = ("pending", "_sent")

    def __init__(self) -> None:
        self.pending = b""
        self._sent = False

    def __call__(self, chunk: bytes) -> bytes:
        data = self.pending + chunk if self.pending else chunk
        i = data.rfind(b"\n,")
        head, rest = (data[:i + 1], data[i + 1:]) if i >= 0 else (b"", data)
        if _element_ends(rest):
            head, rest = data, b""
        self.pending = rest
        if head:
            self._sent = True
        return head

    def flush(self) -> bytes:
        rest, self.pending = self.pending, b""
        if not rest.strip():
            return b"" if self._sent else b"[]"
        return rest if rest.rstrip().endswith(b"]") else rest + b"]"


def _element_ends(rest: bytes) -> bool:
    """``[{..}\n`` / ``,{..}\n`` on one line, or a pretty-printed one whose ``}`` closes at column 0."""
    if not rest.endswith(b"}\n") or rest.lstrip(b"[, \r\n")[:1] != b"{":
        return False
    return rest.endswith(b"\n}\n") or rest.count(b"\n") == 1


def event(name: str, data: Any) -> bytes:
    """``event: name`` + ``data: json`` (Anthropic, OpenAI Responses)."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def data_only(data: Any) -> bytes:
    """``data: json`` (OpenAI chat and completions)."""
    return b"data: " + orjson.dumps(data) + b"\n\n"


def data_crlf(data: Any) -> bytes:
    """``data: json`` with CRLF framing (Gemini ``alt=sse``)."""
    return b"data: " + orjson.dumps(data) + b"\r\n\r\n"


DONE = b"data: [DONE]\n\n"
