"""The Exchange: what one route does to a request, its answer, its errors and its stream.

Every route has exactly one (modelled on Envoy AI Gateway's ``Translator``):

- passthrough is the *identity* exchange of the client's wire format
  (:class:`Exchange` itself): the body goes out nearly as it came (a format may
  ask the provider for stream usage and hide it again), answers and errors are
  relayed byte for byte;
- translation is an exchange between two formats (``plugins/translate``);
- a *local* exchange answers without calling a provider (token-count estimates).

Usage is always read by the **provider** format's own functions
(:meth:`proxy.apis.Api.usage_from_body` and its stream meter), whichever
exchange the route has: one usage function per format, so a passthrough and a
translated route over the same provider answer meter identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from proxy.errors import RequestRejected
from proxy.apis import STREAM_FAULTS, STREAM_MALFORMED
from proxy.sse import SSEParser, WholeElements, WholeEvents
from proxy.usage import Usage

if TYPE_CHECKING:
    from proxy.apis import Api, StreamFilter, StreamMeter


#: What an unsupported parameter is, for the ``agents`` policy. A hosted tool runs on the origin
#: provider's servers (Codex's ``web_search``/``tool_search``, Anthropic's server tools, Google Search):
#: without it the model still answers, it just cannot search. A sampling knob (``top_k``, penalties,
#: ``seed``, ``verbosity``, a temperature out of range) shapes how tokens are drawn, not what is said.
#: Everything else (content, messages, ``n``, log probabilities, stored state, output modes) carries
#: meaning the client relies on and is never dropped unless the policy is ``drop``.
HOSTED_TOOL = "hosted_tool"
SAMPLING = "sampling"
MEANING = "meaning"


@dataclass
class TranslateOptions:
    """What a translation knows besides the body.

    ``policy``: the endpoint's ``unsupported_params``: ``reject`` raises
    RequestRejected naming the parameter; ``drop`` omits it and lists it in
    ``dropped``; ``agents`` drops hosted tools and sampling knobs for a coding
    agent (``coding_agent``) and rejects everything else, and everything for other
    clients. ``target``: the provider kind (``openai``, ``openai_compatible``,
    ``anthropic``, ...). ``stream``: whether the client asked for a stream.
    ``api_version``: the API version the provider's config names (e.g. the
    ``anthropic-version`` it sends), so a translation follows that version's rules.
    """

    stream: bool | None = None
    policy: str = "reject"
    target: str = ""
    dropped: list[str] = field(default_factory=list)
    coding_agent: bool = False
    api_version: str = ""

    def drops(self, kind: str) -> bool:
        if self.policy == "drop":
            return True
        return self.policy == "agents" and self.coding_agent and kind != MEANING

    def unsupported(self, param: str, why: str, kind: str = MEANING) -> None:
        if self.drops(kind):
            if param not in self.dropped:
                self.dropped.append(param)
            return
        rule = f"the endpoint's unsupported_params policy is {self.policy!r}"
        if self.policy == "agents":
            rule += (", which drops only hosted tools and sampling knobs, and only for coding agents"
                     if kind == MEANING or self.coding_agent else ", which drops it only for coding agents")
        raise RequestRejected(f"'{param}' cannot be expressed by this endpoint's provider: {why} ({rule})",
                              param=param)


class ExchangeStream:
    """One streamed answer: meters the provider's bytes and rewrites them for the client.

    *inner* is a translation's client stream or a passthrough's stream filter;
    both hand on whole events only (a passthrough without a filter gets
    :class:`~proxy.sse.WholeEvents` / :class:`~proxy.sse.WholeElements`), so
    a stream cut or refused mid-event never leaves the client half an event.
    :attr:`end` says how the provider's stream ended (see :mod:`proxy.apis`).
    """

    __slots__ = ("meter", "inner", "_feed", "_finish", "_quiet")

    def __init__(self, meter: StreamMeter, inner: ClientStreamBase | StreamFilter | None = None, *,
                 json_array: bool = False) -> None:
        self.meter = meter
        if inner is None:
            inner = WholeElements() if json_array else WholeEvents()
        self.inner = inner
        if isinstance(inner, ClientStreamBase):
            self._feed, self._finish = inner.feed, inner.finish
        else:
            self._feed, self._finish = inner, inner.flush
        # A passthrough whose filter hands on whole events unchanged, metered by a format with a
        # byte check: a chunk the check calls quiet goes out as it came, unscanned (most chunks).
        self._quiet = meter.quiet if meter.has_quiet and getattr(inner, "passes_whole_events", False) else None

    @property
    def usage(self) -> Usage:
        return self.meter.usage

    @property
    def final(self) -> dict[str, Any] | None:
        return getattr(self.inner, "final", None)

    @property
    def end(self) -> str:
        return self.meter.end

    def feed(self, chunk: bytes) -> bytes:
        if self._quiet is not None and not self.inner.pending and self._quiet(chunk):  # type: ignore[union-attr]
            return chunk
        meter = self.meter
        meter.feed(chunk)
        if meter.end in STREAM_FAULTS:
            return b""                      # the relay ends the stream with an error event
        try:
            return self._feed(chunk)
        except ValueError:                  # a translator met JSON it cannot read
            meter.end = STREAM_MALFORMED
            return b""

    def observe(self, chunk: bytes) -> None:
        """Meter bytes the client will never see (read on after it left)."""
        self.meter.feed(chunk)

    def close(self) -> str:
        """The provider's body ended; returns how the stream ended ("" = cut short)."""
        self.meter.close()
        return self.meter.end

    def finish(self) -> bytes:
        """The client's rest and terminator; only for a stream the provider really ended."""
        return self._finish()


class ClientStreamBase:
    """Base of translated client streams (see :class:`ClientStream`)."""

    final: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> bytes:
        raise NotImplementedError

    def finish(self) -> bytes:
        raise NotImplementedError


class Exchange:
    """The identity exchange of a wire format; translations subclass it.

    *client* is the format the client speaks, *provider* the one the provider
    speaks (the same object for the identity).
    """

    passthrough = True
    local = False
    #: headers of a local exchange's answer (see :class:`LocalExchange`)
    answer_headers: dict[str, str] = {}

    def __init__(self, client: Api, provider: Api | None = None) -> None:
        self.client = client
        self.provider = provider or client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.client.id} -> {self.provider.id}>"

    # -- request
    def request(self, body: dict[str, Any], *, model: str, options: TranslateOptions) -> dict[str, Any]:
        """The body to send upstream (*model*: the provider's model id)."""
        return self.client.upstream_body(self.client.for_provider(body, options), bool(options.stream))

    # -- answer
    def usage(self, body: Any) -> Usage:
        """Usage of a whole (non-streamed) provider answer, by the provider format's one function."""
        return self.provider.usage_from_body(body)

    def response(self, body: Any, *, model: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The client's body for a provider answer; None: relay the provider's bytes unchanged.
        *model*: the name the client asked for."""
        return None

    def error(self, status: int, body: bytes) -> tuple[int, dict[str, Any]] | None:
        """The client's error for a provider error; None: relay it unchanged."""
        return None

    def stream(self, *, model: str, request: dict[str, Any], json_array: bool = False) -> ExchangeStream:
        return ExchangeStream(self.provider.meter_class(), self.client.stream_filter(request), json_array=json_array)

    # -- no provider call
    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A local exchange's whole answer to *body* (no provider is called)."""
        raise NotImplementedError


class LocalExchange(Exchange):
    """Answered by the gateway itself, without calling the provider (``answer``); the answer
    goes out with :attr:`answer_headers`."""

    passthrough = False
    local = True
    answer_headers: dict[str, str] = {}


class JsonArrayFraming(ClientStreamBase):
    """Re-frames a translated Gemini SSE stream as the JSON-array stream, element by element
    (what a Gemini client that called streamGenerateContent without ``alt=sse`` reads)."""

    def __init__(self, inner: ClientStreamBase) -> None:
        self.inner = inner
        self._parser = SSEParser()
        self._started = False

    @property
    def final(self) -> dict[str, Any] | None:  # type: ignore[override]
        return self.inner.final

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


class ExchangeRegistry:
    """Translating exchanges between wire formats, keyed by (client format, provider format);
    ``"local"`` as the provider format: answered by the gateway itself."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, str], Exchange] = {}

    def add(self, exchange: Exchange, provider_api: str | None = None) -> None:
        key = (exchange.client.id, provider_api or exchange.provider.id)
        if key in self._pairs:
            raise ValueError(f"exchange {key[0]} -> {key[1]} registered twice")
        self._pairs[key] = exchange

    def get(self, client_api: str, provider_api: str) -> Exchange | None:
        return self._pairs.get((client_api, provider_api))

    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self._pairs)
