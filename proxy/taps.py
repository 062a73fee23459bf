"""Copies of what the client is sent, for plugins: payload logging keeps the bytes, tracing reads the
answer's id, model and finish reasons. Nothing is copied unless a plugin asked, per request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.context import RequestContext

#: a callable that gets a copy of what the client is sent (payload logging sets it for sampled
#: requests; it keeps what fits its cap)
RESPONSE_CAPTURE: StashKey[Callable[[bytes], None]] = StashKey("response_capture")
#: more callables that get a copy of what the client is sent; any plugin may append one. Called
#: after RESPONSE_CAPTURE, for every attempt that answers the client
RESPONSE_TAPS: StashKey[list[Callable[[bytes], None]]] = StashKey("response_taps")


def response_tap(ctx: RequestContext) -> Callable[[bytes], None] | None:
    """RESPONSE_CAPTURE and RESPONSE_TAPS as one callable, or None when there is none (the usual case)."""
    capture = ctx.stash.get(RESPONSE_CAPTURE)
    taps = ctx.stash.get(RESPONSE_TAPS)
    if not taps:
        return capture
    every = (capture, *taps) if capture is not None else tuple(taps)
    if len(every) == 1:
        return every[0]

    def each(chunk: bytes) -> None:
        for tap in every:
            tap(chunk)
    return each


def tee(write: Callable[[bytes], Awaitable[None]],
        tap: Callable[[bytes], None]) -> Callable[[bytes], Awaitable[None]]:
    """*write*, with *tap* given a copy of every chunk first."""
    async def tapped(chunk: bytes) -> None:
        tap(chunk)
        await write(chunk)
    return tapped
