"""Server-sent events of an MCP stream, split and rebuilt whole so each message can be checked.

An event's ``id:``, ``event:`` and ``retry:`` lines are kept as the upstream sent them
(resumption with ``Last-Event-ID`` and SSE polling depend on them); only the ``data:``
of a JSON-RPC message is replaced when the gateway changed the message.
"""

from __future__ import annotations

from collections.abc import Iterator


class EventTooLarge(Exception):
    pass


class EventSplitter:
    """Bytes in, whole events (without their blank-line terminator) out."""

    def __init__(self, max_event_bytes: int) -> None:
        self._buf = b""
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._buf = (self._buf + chunk).replace(b"\r\n", b"\n")
        while True:
            end = self._buf.find(b"\n\n")
            if end < 0:
                break
            event, self._buf = self._buf[:end], self._buf[end + 2:]
            yield event
        if len(self._buf) > self._max:
            raise EventTooLarge(f"an upstream event is larger than {self._max} bytes")

    def rest(self) -> bytes:
        return self._buf


def data_of(event: bytes) -> bytes | None:
    """The joined ``data:`` lines of *event*, or None when it has none."""
    parts = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(parts) if parts else None


def with_data(event: bytes, data: bytes) -> bytes:
    """*event* with its data replaced by *data* (one line: JSON has no raw newlines)."""
    lines = [line for line in event.split(b"\n") if not line.startswith(b"data:")]
    return b"\n".join([*lines, b"data: " + data]) + b"\n\n"
