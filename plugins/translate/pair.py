"""A translating exchange composed of a client side and a backend side.

Every format converts to and from the pivot (OpenAI chat plus the extension
fields of :mod:`plugins.translate.pivot`); a :class:`PairExchange` is a client
side and a backend side joined there. The sides live in their vendor's folder
(``plugins/openai``, ``plugins/anthropic``, ``plugins/gemini``); this module
only joins them. All pure: no I/O, no globals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from proxy.exchange import ClientStreamBase, Exchange, ExchangeStream, JsonArrayFraming, TranslateOptions

if TYPE_CHECKING:
    from proxy.apis import Api


class BackendStream(Protocol):
    """Provider stream bytes -> pivot chunks."""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]: ...

    def finish(self) -> list[dict[str, Any]]: ...


class ClientEmitter(Protocol):
    """Pivot chunks -> client stream bytes; ``final`` is the client-format response it amounted to."""

    final: dict[str, Any] | None

    def feed(self, chunks: list[dict[str, Any]]) -> bytes: ...

    def finish(self) -> bytes: ...


class Backend(Protocol):
    """A provider format seen from the pivot."""

    def request_from_chat(self, body: dict[str, Any], model: str, opts: TranslateOptions) -> dict[str, Any]: ...

    def response_to_chat(self, body: dict[str, Any], model: str) -> dict[str, Any]: ...

    def error_to_chat(self, status: int, body: bytes) -> tuple[int, dict[str, Any]]: ...

    def stream(self, model: str) -> BackendStream: ...


class Client(Protocol):
    """A client format seen from the pivot."""

    def request_to_chat(self, body: dict[str, Any], opts: TranslateOptions) -> dict[str, Any]: ...

    def response_from_chat(self, chat: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]: ...

    def error_from_chat(self, status: int, error: dict[str, Any]) -> tuple[int, dict[str, Any]]: ...

    def stream(self, model: str, request: dict[str, Any]) -> ClientEmitter: ...


class PairStream(ClientStreamBase):
    """Provider stream bytes in, client stream bytes out, through the pivot's chunks."""

    __slots__ = ("_in", "_out")

    def __init__(self, backend_stream: BackendStream, emitter: ClientEmitter) -> None:
        self._in = backend_stream
        self._out = emitter

    @property
    def final(self) -> dict[str, Any] | None:  # type: ignore[override]
        return self._out.final

    def feed(self, chunk: bytes) -> bytes:
        chunks = self._in.feed(chunk)
        return self._out.feed(chunks) if chunks else b""

    def finish(self) -> bytes:
        tail = self._in.finish()
        return (self._out.feed(tail) if tail else b"") + self._out.finish()


class PairExchange(Exchange):
    passthrough = False

    def __init__(self, client_api: Api, provider_api: Api, client: Client, backend: Backend) -> None:
        super().__init__(client_api, provider_api)
        self.client_side = client
        self.backend_side = backend

    def request(self, body: dict[str, Any], *, model: str, options: TranslateOptions) -> dict[str, Any]:
        opts = options
        if opts.stream is None:
            opts.stream = body.get("stream") is True
        chat = self.client_side.request_to_chat(body, opts)
        chat["model"] = model
        if opts.stream:
            chat["stream"] = True
            chat["stream_options"] = {"include_usage": True}
        else:
            chat.pop("stream", None)
            chat.pop("stream_options", None)
        return self.backend_side.request_from_chat(chat, model, opts)

    def response(self, body: Any, *, model: str, request: dict[str, Any]) -> dict[str, Any]:
        return self.client_side.response_from_chat(self.backend_side.response_to_chat(body, model), model, request)

    def error(self, status: int, body: bytes) -> tuple[int, dict[str, Any]]:
        status, err = self.backend_side.error_to_chat(status, body)
        return self.client_side.error_from_chat(status, err)

    def client_stream(self, model: str, request: dict[str, Any]) -> PairStream:
        """The translation alone (no metering): provider bytes -> client bytes."""
        return PairStream(self.backend_side.stream(model), self.client_side.stream(model, request))

    def stream(self, *, model: str, request: dict[str, Any], json_array: bool = False) -> ExchangeStream:
        inner: ClientStreamBase = self.client_stream(model, request)
        if json_array:
            inner = JsonArrayFraming(inner)
        return ExchangeStream(self.provider.meter_class(), inner)
