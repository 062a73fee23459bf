"""One WebSocket turn's reply channel: the SSE route's events, each as a text frame.

The pipeline writes a Responses stream to it exactly as it writes an HTTP one
(:mod:`proxy.channels`); this splits the bytes into events and sends each event's ``data``
as one WebSocket text frame, unchanged: the same events, numbers and terminal event as the
SSE route. Dropped: the SSE framing, and a ``data: [DONE]`` line (a WebSocket client would
read it as the end of its *next* turn). Changed only when the socket resolved a
``previous_response_id`` itself (the provider saw a stateless request): the Response snapshots
echo the id the client sent, as the HTTP route does. Sending waits while the client is slow
to read (aiohttp's writer drains), which pauses reading from the provider: back-pressure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from proxy.sse import SSEParser

TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
#: events that carry the Response object (parsed to echo the id and to keep the last response)
SNAPSHOTS = TERMINAL | {"response.created", "response.in_progress", "response.queued"}


class TurnChannel:
    """A :class:`proxy.channels.ReplyChannel` over an open WebSocket, for one ``response.create``."""

    def __init__(self, ws: web.WebSocketResponse, body: bytes, echo_previous: str | None) -> None:
        self._ws = ws
        self._body = body
        self._echo = echo_previous
        self._parser = SSEParser()
        self.started = False
        #: the Response of the terminal event, once sent
        self.final: dict[str, Any] | None = None
        #: an ``error`` event or ``response.failed`` went out
        self.failed = False

    @property
    def body(self) -> bytes:
        return self._body

    @property
    def completed(self) -> bool:
        return self.final is not None and not self.failed

    async def start(self, headers: Mapping[str, str]) -> None:
        self.started = True

    async def write(self, chunk: bytes) -> None:
        for name, data in self._parser.feed(chunk):
            await self._send(name, data)

    async def end(self) -> None:
        for name, data in self._parser.finish():
            await self._send(name, data)

    async def _send(self, name: str | None, data: str) -> None:
        if not data or data == "[DONE]":
            return
        if name is None or name in SNAPSHOTS or name == "error":      # data-only SSE: look at each
            data = self._observe(data)
        await self._ws.send_str(data)

    def _observe(self, data: str) -> str:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return data
        if not isinstance(event, dict):
            return data
        kind = event.get("type")
        response = event.get("response")
        if kind == "error" or kind == "response.failed":
            self.failed = True
        if not isinstance(response, dict):
            return data
        if kind in TERMINAL:
            self.final = response
        if self._echo and response.get("previous_response_id") is None:
            response["previous_response_id"] = self._echo
            return orjson.dumps(event).decode()
        return data
