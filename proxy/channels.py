"""Where a request's answer goes when it is not the HTTP response of that request.

A WebSocket carries many requests, one after another (the Responses API's WebSocket mode,
plugins/openai/responses_ws.py). Each is still a whole request through the pipeline
(:func:`proxy.pipeline.handle` with a channel): authentication, limits, routing, retries, the
relay, metering, the ledger and metrics, exactly as over HTTP. Only two things differ: the
body is the message the channel received, and a stream is written to the channel instead of
an HTTP response. An answer that is not a stream (an error, a JSON body) is the handler's
return value, unsent: the channel's owner turns it into its own kind of message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class ReplyChannel(Protocol):
    """One request's way in and out over a connection that outlives it."""

    @property
    def body(self) -> bytes:
        """The request body (the message that started this request)."""
        ...

    async def start(self, headers: Mapping[str, str]) -> None:
        """A stream begins; *headers* are those an HTTP answer would carry."""
        ...

    async def write(self, chunk: bytes) -> None:
        """Stream bytes, as an HTTP answer would get them. Waits while the peer is slow to read
        (back-pressure); raises ConnectionResetError when the peer is gone."""
        ...

    async def end(self) -> None:
        """The stream is complete."""
        ...
