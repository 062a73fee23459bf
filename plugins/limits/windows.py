"""The limit algorithm: an exact sliding-window log, and its in-process backend.

Why a log and not a token bucket or GCRA: "N per minute" should mean what it
says, over *every* 60-second span, not only on average. A bucket of capacity N
refilled at N/60 per second lets 2N through in a minute (a full bucket, then
the refill). The log keeps one entry per admitted request (its time and its
amount) plus a running total, so memory is one entry per request in the last
minute and each decision is O(1) amortised (expired entries leave from the front).

Rules, identical in this module and in the Redis Lua scripts (the tests run the
same cases against both):

* **admit**: drop entries older than the window (an entry of time ``t`` counts
  while ``now - t < window``); if ``total + cost > capacity`` for any of the
  request's windows, refuse and charge nothing; otherwise add an entry of
  ``cost`` to every window. Check and reserve run without interruption (one
  event-loop step here, one Lua script in Redis), so N concurrent requests
  never pass more than the capacity.
* A request's cost: 1 for request limits; for token limits the estimate
  (prompt estimate + max output tokens), capped at the capacity, so a request
  larger than a whole minute's allowance still passes into an empty window
  instead of being refused forever.
* **settle**: the entry's amount becomes the real usage (a refund when smaller,
  the difference charged when larger; a failed call settles at 0). If the
  entry has already left the window (a call longer than a minute), only an
  excess over the reservation is charged, as a new entry now. Later attempts
  of the same request (fallbacks) are charged as new entries.
* **Retry-After** on a refusal: the time until enough of the oldest entries
  leave the window for the request to fit.
* **budgets**: spend per period (integer nano-dollars, so sums are exact) plus
  the *holds* of requests in flight. At admission a request holds its
  worst-case cost (see plugins/limits/worst_case.py) in every budget that
  applies; it is refused, holding nothing, when the spend has reached the
  budget or when ``spent + held + its cost`` would pass it. Settling adds the
  real spend and gives the hold back (a failed attempt that may be retried only
  shrinks it by what it spent; the end of the request gives back the rest). A
  hold lapses after its ``hold_s`` (a replica that died never settles), so at
  most ``sum(max(0, actual - held))`` over admitted requests can pass a budget:
  nothing, when every hold is an upper bound of its request's cost.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from plugins.limits.rules import Limit


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a request was refused: ``index`` into the charges or budgets passed to acquire."""

    kind: str              # "limit" or "budget"
    index: int
    used: int              # units in the window, or nano-USD spent
    retry_after: float = 0.0
    held: int = 0          # budgets: nano-USD held by requests in flight


class BudgetCharge(NamedTuple):
    """One budget a request is admitted against: its period's bucket and what the request holds."""

    bucket: str
    limit_nano: int
    cost_nano: int         # the request's worst-case cost, held until it settles
    hold_s: float          # the hold lapses after this long (a replica that died never settles)


#: (limit, reserved amount, actual amount, member name for a new entry)
Settlement = tuple[Limit, int, int, str]


class LimiterBackend(Protocol):
    async def acquire(self, member: str, charges: Sequence[tuple[Limit, int]],
                      budgets: Sequence[BudgetCharge]) -> Denial | None:
        """Check every budget and window, then reserve all charges and hold all budget costs, or none."""

    async def settle(self, member: str, settlements: Sequence[Settlement],
                     spends: Sequence[tuple[str, int, int]], holds: Sequence[tuple[str, int]] = (),
                     release: bool = False) -> None:
        """Replace reservations by real amounts; add (bucket, nano-USD, ttl seconds) spends; shrink
        *member*'s hold in each (bucket, nano-USD) of *holds* by that amount, or drop it (*release*)."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class _Window:
    __slots__ = ("order", "entries", "total", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.order: deque[str] = deque()                  # members, oldest first
        self.entries: dict[str, list[float]] = {}         # member -> [time, amount]
        self.total = 0

    def evict(self, horizon: float) -> None:
        order, entries = self.order, self.entries
        while order:
            e = entries[order[0]]
            if e[0] > horizon:
                return
            self.total -= int(e[1])
            del entries[order.popleft()]

    def add(self, member: str, now: float, amount: int) -> None:
        e = self.entries.get(member)
        if e is not None:                                 # same member twice: merge, keep its time
            e[1] += amount
        else:
            self.order.append(member)
            self.entries[member] = [now, amount]
        self.total += amount

    def retry_after(self, cost: int, capacity: int, now: float) -> float:
        need = self.total + cost - capacity
        freed = 0
        for member in self.order:
            t, amount = self.entries[member]
            freed += int(amount)
            if freed >= need:
                return max(0.0, t + self.window_s - now)
        return self.window_s


class _Holds:
    """What requests in flight hold in one budget bucket: member -> [deadline, nano-USD]."""

    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: dict[str, list[float]] = {}
        self.total = 0

    def add(self, member: str, deadline: float, amount: int) -> None:
        old = self.entries.get(member)
        if old is not None:                              # the same member twice: the new hold replaces it
            self.total -= int(old[1])
        self.entries[member] = [deadline, amount]
        self.total += amount

    def expire(self, now: float) -> None:
        for member in [m for m, (deadline, _) in self.entries.items() if deadline <= now]:
            self.total -= int(self.entries.pop(member)[1])

    def take(self, member: str, amount: int | None) -> None:
        """Shrink *member*'s hold by *amount* (None: all of it)."""
        e = self.entries.get(member)
        if e is None:
            return
        taken = int(e[1]) if amount is None else min(amount, int(e[1]))
        e[1] -= taken
        self.total -= taken
        if amount is None:
            del self.entries[member]


class MemoryBackend:
    """In-process windows: exact for one process (each worker process has its own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[str, _Window] = {}
        self._spend: dict[str, list[float]] = {}          # bucket -> [nano-USD, expires at]
        self._holds: dict[str, _Holds] = {}               # bucket -> holds of requests in flight
        self._settles = 0

    def _window(self, limit: Limit) -> _Window:
        w = self._windows.get(limit.id)
        if w is None:
            w = self._windows[limit.id] = _Window(limit.window_s)
        return w

    async def acquire(self, member: str, charges: Sequence[tuple[Limit, int]],
                      budgets: Sequence[BudgetCharge]) -> Denial | None:
        now = self.clock()
        for i, b in enumerate(budgets):
            s = self._spend.get(b.bucket)
            spent = int(s[0]) if s is not None and s[1] > now else 0
            holds = self._holds.get(b.bucket)
            held = 0
            if holds is not None:
                if spent + holds.total + b.cost_nano > b.limit_nano:
                    holds.expire(now)                     # only look for lapsed holds when they matter
                held = holds.total
            if spent >= b.limit_nano or spent + held + b.cost_nano > b.limit_nano:
                return Denial("budget", i, spent, held=held)
        windows = []
        for i, (limit, cost) in enumerate(charges):
            w = self._window(limit)
            w.evict(now - limit.window_s)
            if w.total + cost > limit.capacity:
                return Denial("limit", i, w.total, w.retry_after(cost, limit.capacity, now))
            windows.append(w)
        for w, (_limit, cost) in zip(windows, charges):
            w.add(member, now, cost)
        for b in budgets:
            if b.cost_nano > 0:
                holds = self._holds.get(b.bucket)
                if holds is None:
                    holds = self._holds[b.bucket] = _Holds()
                holds.add(member, now + b.hold_s, b.cost_nano)
        return None

    async def settle(self, member: str, settlements: Sequence[Settlement],
                     spends: Sequence[tuple[str, int, int]], holds: Sequence[tuple[str, int]] = (),
                     release: bool = False) -> None:
        now = self.clock()
        for bucket, amount in holds:
            held = self._holds.get(bucket)
            if held is not None:                          # emptied ones stay until prune(): no churn
                held.take(member, None if release else amount)
        for limit, reserved, actual, extra in settlements:
            w = self._window(limit)
            w.evict(now - limit.window_s)
            e = w.entries.get(member) if member else None
            if e is not None:
                w.total += actual - int(e[1])
                e[1] = actual
            elif actual > reserved:
                w.add(extra, now, actual - reserved)
        for bucket, nano, ttl in spends:
            s = self._spend.get(bucket)
            if s is None or s[1] <= now:
                self._spend[bucket] = [nano, now + ttl]
            else:
                s[0] += nano
        self._settles += 1
        if self._settles % 10_000 == 0:
            self.prune()

    def prune(self) -> None:
        """Forget emptied windows and past spend periods (memory hygiene; decisions don't depend on it)."""
        now = self.clock()
        for lid in list(self._windows):
            w = self._windows[lid]
            w.evict(now - w.window_s)
            if not w.order:
                del self._windows[lid]
        self._spend = {b: s for b, s in self._spend.items() if s[1] > now}
        for bucket in list(self._holds):
            self._holds[bucket].expire(now)
            if not self._holds[bucket].entries:
                del self._holds[bucket]

    async def usage(self, limit: Limit) -> int:
        """Units in *limit*'s window now (for tests and diagnostics)."""
        w = self._window(limit)
        w.evict(self.clock() - limit.window_s)
        return w.total

    async def spent(self, bucket: str) -> int:
        s = self._spend.get(bucket)
        return int(s[0]) if s is not None and s[1] > self.clock() else 0

    async def held(self, bucket: str) -> int:
        """Nano-USD held in *bucket* by requests in flight (for tests and diagnostics)."""
        holds = self._holds.get(bucket)
        if holds is None:
            return 0
        holds.expire(self.clock())
        return holds.total

    async def clear(self) -> int:
        n = len(self._windows) + len(self._spend) + len(self._holds)
        self._windows.clear()
        self._spend.clear()
        self._holds.clear()
        return n

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        await self.clear()
