"""An attempt's one timer: first byte, then idle and total (see :class:`Watchdog`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class Watchdog:
    """The one timer of an attempt: first byte, then idle and total.

    Until the response headers arrive (:meth:`opened`) it cancels the waiting task when
    ``first_byte`` runs out (``_open`` turns that into a timeout); afterwards it fires
    *on_stall* when no chunk arrived for *idle* seconds or *total* ran out. Re-armed
    lazily: a chunk only stores the time.
    """

    __slots__ = ("_loop", "clock", "_idle", "_deadline", "last", "_handle", "_on_stall", "fired", "_waiting")

    def __init__(self, first_byte: float, idle: float, total: float, on_stall: Callable[[str], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self.clock = self._loop.time
        now = self.clock()
        self._idle = idle
        self._deadline = now + total
        self.last = now
        self._on_stall = on_stall
        self.fired = ""
        self._waiting: asyncio.Task[Any] | None = asyncio.current_task()    # cancelled if no headers in time
        self._handle = self._loop.call_at(min(now + first_byte, self._deadline), self._check)

    def opened(self) -> None:
        """The response headers arrived: from now on the idle and total timeouts apply."""
        self._waiting = None
        self.last = now = self.clock()
        due = min(now + self._idle, self._deadline)
        if self._handle.when() > due:             # a first-byte wait longer than the idle timeout
            self._handle.cancel()
            self._handle = self._loop.call_at(due, self._check)

    def kick(self) -> None:
        self.last = self._loop.time()

    def _check(self) -> None:
        if self._waiting is not None:             # no response headers within first_byte (or total)
            self.fired = "first_byte"
            self._waiting.cancel()
            return
        now = self._loop.time()
        if now >= self._deadline:
            self.fired = "total"
        elif now - self.last >= self._idle:
            self.fired = "idle"
        else:
            self._handle = self._loop.call_at(min(self.last + self._idle, self._deadline), self._check)
            return
        self._on_stall(self.fired)

    def cut(self, why: str) -> None:
        """End the attempt now (shutdown): the relay sees the provider's stream break."""
        if not self.fired:
            self.fired = why
            self._handle.cancel()
            self._on_stall(why)

    def cancel(self) -> None:
        self._handle.cancel()
