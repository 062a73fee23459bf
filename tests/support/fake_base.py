"""A tiny framework for fake upstream provider servers used in tests.

``FakeUpstream`` runs a real aiohttp server on 127.0.0.1 (ephemeral port), records
every request, and answers according to a queue of scripted :class:`Behavior`
objects (falling back to ``fake.default``).  Subclasses (``FakeOpenAI``,
``FakeAnthropic``, ``FakeGemini``) supply the routes and the wire format; this
module owns everything that is the same for all providers: latency, errors with
``Retry-After``, chunking, broken / malformed / stalled streams and disconnect
detection.
"""
from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .behavior import DEFAULT_TEXT, Behavior, ToolCall, Usage, split_chunks  # noqa: F401 (re-exported)


class CIDict(dict):
    """A dict with case-insensitive string keys (stored lower-cased)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        super().__init__()
        for k, v in items:
            self[k] = v

    def __setitem__(self, k, v):
        super().__setitem__(k.lower(), v)

    def __getitem__(self, k):
        return super().__getitem__(k.lower())

    def __contains__(self, k):
        return super().__contains__(k.lower())

    def get(self, k, default=None):
        return super().get(k.lower(), default)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: CIDict
    raw_body: bytes
    body: Any                      # parsed JSON, or None
    params: dict = field(default_factory=dict)   # route params (e.g. model)
    disconnected: bool = False
    disconnect_stage: str | None = None         # "headers" | "stream"
    events_sent: int = 0
    ts: float = field(default_factory=time.time)
    raw_path: str = ""                           # as sent, percent-escapes and query included

    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("authorization") or ""
        return auth[7:] if auth.lower().startswith("bearer ") else None

    @property
    def api_key(self) -> str | None:
        """x-api-key, x-goog-api-key, api-key (Azure) or ``?key=``."""
        for h in ("x-api-key", "x-goog-api-key", "api-key"):
            if h in self.headers:
                return self.headers[h]
        return self.query.get("key")

    @property
    def stream_requested(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


class JsonReply:
    def __init__(self, obj: Any, status: int = 200, headers: dict | None = None):
        self.obj, self.status, self.headers = obj, status, headers or {}


class StreamReply:
    """A stream of ``(event_name, payload)`` where payload is a dict or a str.

    ``framer(index, event_name, data_str) -> bytes`` frames one event; ``tail`` is
    written only when the stream completes normally; ``error_event`` is the
    provider's mid-stream error event (used by ``stream_error_after``).
    """

    def __init__(self, events: list[tuple[str | None, Any]], framer: Callable[[int, str | None, str], bytes],
                 content_type: str = "text/event-stream; charset=utf-8", tail: bytes = b"",
                 error_event: tuple[str | None, Any] | None = None, headers: dict | None = None):
        self.events, self.framer, self.content_type = events, framer, content_type
        self.tail, self.error_event, self.headers = tail, error_event, headers or {}


def sse_framer(with_event_lines: bool, eol: str = "\n"):
    def frame(_i: int, name: str | None, data: str) -> bytes:
        head = f"event: {name}{eol}" if with_event_lines and name else ""
        return f"{head}data: {data}{eol}{eol}".encode()
    return frame


MALFORMED_JSON = '{"id": "broken", "choices": [{"delta": {"content": "trunc'


class _ClientGone(Exception):
    pass


Handler = Callable[[web.Request, RecordedRequest, Behavior], Awaitable[Any]]


class FakeUpstream:
    """Base class. Subclasses set ``provider`` and implement ``resolve`` and ``error_body``."""
    provider = "generic"
    id_prefix = "call_"

    def __init__(self, prefix: str = ""):
        self.prefix = prefix.rstrip("/")
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[RecordedRequest] = []
        self.default = Behavior(times=None)
        self._queue: list[Behavior] = []
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port: int | None = None
        self._changed = asyncio.Condition()

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> FakeUpstream:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._entry)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL an SDK / provider config would use (subclasses may add ``/v1``)."""
        return self.root_url + self.prefix

    # ---------------------------------------------------------------- scripting
    def script(self, *behaviors: Behavior) -> FakeUpstream:
        """Queue behaviours for the next matching request(s), in order."""
        self._queue.extend(behaviors)
        return self

    def always(self, behavior: Behavior) -> FakeUpstream:
        """Replace the default behaviour (used when the queue has nothing matching)."""
        behavior.times = None
        self.default = behavior
        return self

    def reset(self) -> None:
        self.requests.clear()
        self.disconnects.clear()
        self._queue.clear()
        self.default = Behavior(times=None)

    def _next_behavior(self, path: str, raw_body: bytes = b"") -> Behavior:
        for b in self._queue:
            if (b.match is None or b.match in path) and (b.match_body is None or b.match_body.encode() in raw_body):
                if b.times is not None:
                    b_times = b.times - 1
                    if b_times <= 0:
                        self._queue.remove(b)
                    else:
                        b.times = b_times
                return b
        return self.default

    # ---------------------------------------------------------------- assertions
    @property
    def last(self) -> RecordedRequest:
        assert self.requests, f"{self.provider} fake received no requests"
        return self.requests[-1]

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def requests_to(self, fragment: str) -> list[RecordedRequest]:
        return [r for r in self.requests if fragment in r.path]

    async def wait_for_requests(self, n: int = 1, timeout: float = 5.0) -> list[RecordedRequest]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.requests) >= n), timeout)
        return self.requests

    async def wait_for_disconnect(self, n: int = 1, timeout: float = 5.0) -> RecordedRequest:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.disconnects) >= n), timeout)
        return self.disconnects[n - 1]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---------------------------------------------------------------- subclass API
    def resolve(self, method: str, path: str) -> tuple[Handler, dict] | None:
        raise NotImplementedError

    def error_body(self, status: int, b: Behavior) -> Any:
        raise NotImplementedError

    def response_headers(self) -> dict:
        return {}

    async def handle_unrouted(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse | None:
        """Hook for endpoints that bypass recording/behaviours (e.g. an OAuth token endpoint)."""
        return None

    # ---------------------------------------------------------------- machinery
    async def _entry(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = request.path
        rel = path[len(self.prefix):] if self.prefix and path.startswith(self.prefix) else path
        rec = RecordedRequest(request.method, path, dict(request.query), CIDict(request.headers.items()), raw, body,
                              raw_path=request.raw_path)
        special = await self.handle_unrouted(request, rec)
        if special is not None:
            return special
        self.requests.append(rec)
        await self._notify()
        b = self._next_behavior(path, raw)
        try:
            return await self._respond(request, rec, b, rel)
        except (_ClientGone, ConnectionResetError):
            await self._mark_disconnected(rec)
            return web.Response(status=499)
        except asyncio.CancelledError:
            await self._mark_disconnected(rec)
            raise

    async def _mark_disconnected(self, rec: RecordedRequest) -> None:
        if not rec.disconnected:
            rec.disconnected = True
            rec.disconnect_stage = rec.disconnect_stage or ("stream" if rec.events_sent else "headers")
            self.disconnects.append(rec)
            await self._notify()

    async def _sleep(self, request: web.Request, seconds: float | None) -> None:
        """Sleep (forever if None), raising _ClientGone as soon as the client disconnects."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            tr = request.transport
            if tr is None or tr.is_closing():
                raise _ClientGone()
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                await asyncio.sleep(min(0.02, left))
            else:
                await asyncio.sleep(0.02)

    def _headers(self, b: Behavior, extra: dict | None = None) -> dict:
        h = {**self.response_headers(), **(extra or {})}
        if b.retry_after is not None:
            h["Retry-After"] = str(b.retry_after)
        h.update(b.headers)
        return h

    async def _respond(self, request: web.Request, rec: RecordedRequest, b: Behavior, rel: str):
        if b.latency:
            await self._sleep(request, b.latency)
        if b.stall == "headers":
            rec.disconnect_stage = "headers"
            await self._sleep(request, None)
        if b.raw is not None:
            data = b.raw.encode() if isinstance(b.raw, str) else b.raw
            return web.Response(status=b.status, body=data, content_type=None,
                                headers={"Content-Type": b.content_type, **self._headers(b)})
        if b.status >= 400:
            body = b.error_body if b.error_body is not None else self.error_body(b.status, b)
            return self._json(body, b.status, self._headers(b), b)
        resolved = self.resolve(request.method, rel)
        if resolved is None:
            return self._json(self.error_body(404, Behavior(status=404, error_message=f"Unknown path {rel}")),
                              404, self._headers(Behavior()), Behavior())
        handler, params = resolved
        rec.params = params
        if b.body is not None:
            return self._json(b.body, b.status, self._headers(b), b)
        reply = await handler(request, rec, b)
        if isinstance(reply, web.StreamResponse):
            return reply
        if isinstance(reply, JsonReply):
            return self._json(reply.obj, reply.status, self._headers(b, reply.headers), b)
        return await self._stream(request, rec, b, reply)

    def _json(self, obj: Any, status: int, headers: dict, b: Behavior) -> web.Response:
        data = json.dumps(obj).encode()
        if b.malformed and status < 400:
            data = data[: max(1, len(data) // 2)]
        return web.Response(status=status, body=data, headers={"Content-Type": "application/json", **headers})

    async def _stream(self, request: web.Request, rec: RecordedRequest, b: Behavior, reply: StreamReply):
        resp = web.StreamResponse(status=200, headers={
            "Content-Type": reply.content_type, "Cache-Control": "no-cache", **self._headers(b, reply.headers)})
        await resp.prepare(request)
        events = list(reply.events)
        if b.stream_error_after is not None and reply.error_event is not None:
            name, payload = reply.error_event
            if isinstance(payload, dict) and "sequence_number" in payload:
                payload = {**payload, "sequence_number": b.stream_error_after}
            events = events[: b.stream_error_after] + [(name, payload)]
        limit = None
        if b.break_after is not None:
            limit = min(b.break_after, len(events) - 1)
        for i, (name, payload) in enumerate(events):
            if limit is not None and i >= limit:
                if b.break_clean:
                    return resp  # body ends cleanly, terminal events missing
                request.transport.close()  # abort: incomplete chunked body
                return resp
            if b.stall == "stream" and i >= b.stall_after:
                rec.disconnect_stage = "stream"
                await self._sleep(request, None)
            if i and b.chunk_delay:
                await self._sleep(request, b.chunk_delay)
            data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
            if b.malformed and i == b.malformed_at:
                data = MALFORMED_JSON
            try:
                await resp.write(reply.framer(i, name, data))
            except (ConnectionResetError, RuntimeError) as e:
                raise _ClientGone() from e
            rec.events_sent = i + 1
        if reply.tail and b.stream_error_after is None:
            await resp.write(reply.tail)
        await resp.write_eof()
        return resp


def new_id(prefix: str, n: int = 24) -> str:
    return prefix + uuid.uuid4().hex[:n]


def b64url_json(segment: str) -> dict:
    pad = "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(segment + pad))


def compile_routes(table: list[tuple[str, str, Handler]]) -> list[tuple[str, re.Pattern, Handler]]:
    return [(m, re.compile(p), h) for m, p, h in table]


def match_routes(routes, method: str, path: str):
    for m, rx, h in routes:
        mo = rx.fullmatch(path)
        if mo and (m == "*" or m == method):
            return h, mo.groupdict()
    return None
