"""Composing a translator pair from a client side and a backend side.

Every format converts to and from the pivot (OpenAI chat plus the extension
fields of :mod:`plugins.translate.convert.common`). A pair module
``<client>_<backend>.py`` is ``Pair(client_side, backend_side)`` and exports
what :mod:`proxy.upstream` calls:

- ``translate_request(body, *, model, options=None) -> dict``
- ``translate_response(body, *, model, request=None) -> dict``
- ``translate_error(status, body_bytes) -> (status, dict)``
- ``StreamTranslator(model=..., request=None)`` with ``feed(bytes) -> bytes``,
  ``finish() -> bytes`` and ``usage``; ``final`` holds the client-format
  response the stream amounted to (used by the Responses store).

All pure: no I/O, no globals.
"""

from __future__ import annotations

from typing import Any, Protocol

from plugins.translate.convert.common import Options
from proxy.context import Usage


class BackendStream(Protocol):
    usage: Usage

    def feed(self, chunk: bytes) -> list[dict[str, Any]]: ...

    def finish(self) -> list[dict[str, Any]]: ...


class ClientStream(Protocol):
    final: dict[str, Any] | None

    def feed(self, chunks: list[dict[str, Any]]) -> bytes: ...

    def finish(self) -> bytes: ...


class Backend(Protocol):
    """A provider format seen from the pivot."""

    def request_from_chat(self, body: dict[str, Any], model: str, opts: Options) -> dict[str, Any]: ...

    def response_to_chat(self, body: dict[str, Any], model: str) -> dict[str, Any]: ...

    def error_to_chat(self, status: int, body: bytes) -> tuple[int, dict[str, Any]]: ...

    def stream(self, model: str) -> BackendStream: ...


class Client(Protocol):
    """A client format seen from the pivot."""

    def request_to_chat(self, body: dict[str, Any], opts: Options) -> dict[str, Any]: ...

    def response_from_chat(self, chat: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]: ...

    def error_from_chat(self, status: int, error: dict[str, Any]) -> tuple[int, dict[str, Any]]: ...

    def stream(self, model: str, request: dict[str, Any]) -> ClientStream: ...


class Pair:
    def __init__(self, client: Client, backend: Backend) -> None:
        self.client = client
        self.backend = backend
        pair = self

        class StreamTranslator:
            """Provider stream bytes in, client stream bytes out."""

            def __init__(self, model: str = "", request: dict[str, Any] | None = None) -> None:
                self._in = pair.backend.stream(model)
                self._out = pair.client.stream(model, request or {})

            @property
            def usage(self) -> Usage:
                return self._in.usage

            @property
            def final(self) -> dict[str, Any] | None:
                return self._out.final

            def feed(self, chunk: bytes) -> bytes:
                chunks = self._in.feed(chunk)
                return self._out.feed(chunks) if chunks else b""

            def finish(self) -> bytes:
                tail = self._in.finish()
                return (self._out.feed(tail) if tail else b"") + self._out.finish()

        self.StreamTranslator = StreamTranslator

    def translate_request(self, body: dict[str, Any], *, model: str, options: Options | None = None) -> dict[str, Any]:
        opts = options or Options()
        if opts.stream is None:
            opts.stream = body.get("stream") is True
        chat = self.client.request_to_chat(body, opts)
        chat["model"] = model
        if opts.stream:
            chat["stream"] = True
            chat["stream_options"] = {"include_usage": True}
        else:
            chat.pop("stream", None)
            chat.pop("stream_options", None)
        return self.backend.request_from_chat(chat, model, opts)

    def translate_response(self, body: dict[str, Any], *, model: str,
                           request: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.client.response_from_chat(self.backend.response_to_chat(body, model), model, request or {})

    def translate_error(self, status: int, body: bytes) -> tuple[int, dict[str, Any]]:
        status, err = self.backend.error_to_chat(status, body)
        return self.client.error_from_chat(status, err)
