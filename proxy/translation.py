"""Calling a route's translator with what it needs to know about the request.

Translators (``plugins/translate``) are pure; this is the glue that gives
them the endpoint's ``unsupported_params`` policy, the stream flag and the
provider kind, and turns what they dropped into the ``x-relaygate-dropped``
response header (the metric is counted from ``ctx.extra["dropped_params"]``).
The client-format response a translation produced is reachable from the
context (``ctx.extra[RESPONSE_KEY]()``) for plugins such as the Responses store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from proxy.errors import RequestRejected

if TYPE_CHECKING:
    from proxy.context import RequestContext, Route

DROPPED_HEADER = "x-relaygate-dropped"
DROPPED_KEY = "dropped_params"
#: ctx.extra key holding a zero-argument callable that returns the client-format response
RESPONSE_KEY = "translated_response"


@dataclass
class TranslateOptions:
    """What a translation knows besides the body.

    ``policy``: the endpoint's ``unsupported_params`` (``reject`` raises
    RequestRejected naming the parameter; ``drop`` omits it and lists it in
    ``dropped``). ``target``: the provider kind (``openai``, ``openai_compatible``,
    ``anthropic``, ...). ``stream``: whether the client asked for a stream.
    """

    stream: bool | None = None
    policy: str = "reject"
    target: str = ""
    dropped: list[str] = field(default_factory=list)

    def unsupported(self, param: str, why: str) -> None:
        if self.policy == "drop":
            if param not in self.dropped:
                self.dropped.append(param)
            return
        raise RequestRejected(f"'{param}' cannot be expressed by this endpoint's provider: {why} "
                              f"(the endpoint's unsupported_params policy is 'reject')", param=param)


def translate_request(ctx: RequestContext, route: Route, body: dict[str, Any]) -> dict[str, Any]:
    opts = TranslateOptions(stream=ctx.stream, policy=route.endpoint.unsupported_params, target=route.provider.kind)
    out: dict[str, Any] = route.translator.translate_request(body, model=route.upstream_model, options=opts)
    if opts.dropped:
        ctx.response_headers[DROPPED_HEADER] = ",".join(opts.dropped)
        ctx.extra[DROPPED_KEY] = list(opts.dropped)
    return out


def translate_response(ctx: RequestContext, route: Route, parsed: Any) -> dict[str, Any]:
    out: dict[str, Any] = route.translator.translate_response(parsed, model=ctx.endpoint_name, request=ctx.body)
    ctx.extra[RESPONSE_KEY] = lambda: out
    return out


def stream_translator(ctx: RequestContext, route: Route) -> Any:
    translator = route.translator.StreamTranslator(model=ctx.endpoint_name, request=ctx.body)
    ctx.extra[RESPONSE_KEY] = lambda: getattr(translator, "final", None)
    if wants_json_array(ctx):
        return JsonArrayFraming(translator)
    return translator


def wants_json_array(ctx: RequestContext) -> bool:
    """A Gemini client that called streamGenerateContent without ``alt=sse`` reads one JSON array."""
    return ctx.api.id == "gemini.generate" and ctx.stream and ctx.path_params.get("alt", "sse") != "sse"


class JsonArrayFraming:
    """Re-frames a translator's Gemini SSE output as the JSON-array stream, element by element."""

    def __init__(self, inner: Any) -> None:
        from proxy.sse import SSEParser

        self.inner = inner
        self._parser = SSEParser()
        self._started = False

    @property
    def usage(self) -> Any:
        return self.inner.usage

    @property
    def final(self) -> Any:
        return getattr(self.inner, "final", None)

    def _frame(self, events: list[tuple[str | None, str]]) -> bytes:
        parts = []
        for _name, data in events:
            if not data or data == "[DONE]":
                continue
            parts.append(("," if self._started else "[") + data + "\n")
            self._started = True
        return "".join(parts).encode()

    def feed(self, chunk: bytes) -> bytes:
        return self._frame(self._parser.feed(self.inner.feed(chunk)))

    def finish(self) -> bytes:
        out = self._frame(self._parser.feed(self.inner.finish()) + self._parser.finish())
        return out + (b"]" if self._started else b"[]")
