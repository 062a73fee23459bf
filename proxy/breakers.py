"""Circuit breakers keyed by what failed: one model of one provider.

Health is tracked per (provider, provider model), so on a wildcard endpoint
(``openai/*``) one caller's failing model leaves every other model alone, and
two endpoints routing to the same provider model share what they learn. The
thresholds are the endpoint's ``circuit_breaker`` settings, read per call.

Only outcomes that say something about the provider count as failures:
connect errors, timeouts, malformed or broken provider data and 5xx (529
included; a 500 that blames the request still counts, since it cannot be told
apart reliably). A 4xx means the provider answered (healthy); a 429, a
redirect or a client that went away say nothing either way.

A circuit opens after ``consecutive_failures`` failures in a row, stays open
``cooldown_seconds``, then lets ``half_open_probes`` trial requests through:
a success closes it, a failed probe opens it again. The gateway must never be
less available than the provider, so when *every* candidate of a request is
open, one request in ``panic_one_in`` still goes to the provider (Envoy's
panic mode, bounded) and its success closes the circuit at once.

An entry exists only while its key has unhealed failures: successes allocate
nothing, so client-chosen wildcard models cannot grow the table (it is capped
at :data:`MAX_KEYS` anyway, dropping closed entries first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from proxy.errors import GatewayError, UpstreamError, UpstreamRedirect, UpstreamStatusError

if TYPE_CHECKING:
    from proxy.config import CircuitBreakerConfig
    from proxy.context import Route

log = logging.getLogger("relaygate.resilience")
CLOSED, HALF_OPEN, OPEN = 0, 1, 2
STATE_NAMES = {CLOSED: "closed", HALF_OPEN: "half_open", OPEN: "open"}
#: what acquiring gives an attempt: refused, a pass of a closed circuit, a half-open probe, a panic pass
REFUSED, PASS, PROBE, PANIC = 0, 1, 2, 3
MAX_KEYS = 4096

Key = tuple[str, str]                     # (provider name, provider model)
Labels = tuple[str, str, str]             # (endpoint, served model, provider): the metric's labels


def failed(reason: str) -> bool | None:
    """What an attempt's outcome says about the provider: True failed, False healthy, None nothing."""
    if reason == "":
        return False
    if reason in ("connect", "timeout", "protocol", "error"):
        return True
    if reason.isdigit():
        status = int(reason)
        return True if status >= 500 else (None if status == 429 else False)
    return None                                   # redirect, client_disconnected, circuit_open, ...


def verdict(exc: GatewayError) -> bool | None:
    """:func:`failed` for an attempt that raised *exc*; our own refusals say nothing."""
    if isinstance(exc, UpstreamRedirect) or not isinstance(exc, UpstreamError):
        return None
    if isinstance(exc, UpstreamStatusError):
        return failed(str(exc.status))
    return failed(str(getattr(exc, "reason", "error")))


class CircuitBreaker:
    """The state of one key; the thresholds come with each call (the endpoint's config)."""

    __slots__ = ("state", "failures", "opened_at", "probes", "refused", "labels")

    def __init__(self) -> None:
        self.state = CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.probes = 0
        self.refused = 0                          # requests refused while every candidate was open
        self.labels: set[Labels] = set()         # metric label sets this key was used under

    def available(self, now: float, cfg: CircuitBreakerConfig) -> bool:
        """Whether routing may pick this key now (does not take a probe slot)."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            return now - self.opened_at >= cfg.cooldown_seconds
        return self.probes < cfg.half_open_probes

    def acquire(self, now: float, cfg: CircuitBreakerConfig) -> int:
        """A ticket (REFUSED, PASS or PROBE) for one attempt; pair with :meth:`release`."""
        if self.state == OPEN:
            if now - self.opened_at < cfg.cooldown_seconds:
                return REFUSED
            self.state, self.probes = HALF_OPEN, 0
        if self.state == HALF_OPEN:
            if self.probes >= cfg.half_open_probes:
                return REFUSED
            self.probes += 1
            return PROBE
        return PASS

    def panic_pass(self, cfg: CircuitBreakerConfig) -> bool:
        """Every candidate is open: let each ``panic_one_in``-th such request through anyway."""
        if not cfg.panic_one_in:
            return False
        self.refused += 1
        return self.refused % cfg.panic_one_in == 0

    def release(self, ticket: int, outcome: bool | None, now: float, cfg: CircuitBreakerConfig) -> None:
        if ticket == PROBE:
            self.probes = max(0, self.probes - 1)
        if outcome is None:
            return
        if not outcome:
            self.state, self.failures, self.refused = CLOSED, 0, 0
            return
        self.failures += 1
        # A failed probe reopens; a failed panic pass (or a late failure) leaves an open circuit as it is.
        if ticket == PROBE or (self.state == CLOSED and self.failures >= cfg.consecutive_failures):
            self.state, self.opened_at = OPEN, now

    def retry_after(self, now: float, cfg: CircuitBreakerConfig) -> float:
        return max(0.0, self.opened_at + cfg.cooldown_seconds - now)


class Breakers:
    """Every key's breaker, and the metric listeners told of each label set's worst state."""

    def __init__(self) -> None:
        self._by_key: dict[Key, CircuitBreaker] = {}
        #: called as listener(endpoint, served_model, provider, state), state the worst of that label set's keys
        self.listeners: list[Callable[[str, str, str, int], None]] = []
        self._open: dict[Labels, dict[Key, int]] = {}      # label set -> its keys that are not closed

    @staticmethod
    def key(route: Route) -> Key:
        return route.provider.name, route.upstream_model

    def get(self, route: Route) -> CircuitBreaker | None:
        return self._by_key.get(self.key(route))

    def __len__(self) -> int:
        return len(self._by_key)

    def states(self) -> list[tuple[str, str, str, int, float]]:
        """(provider, model, state name, consecutive failures, opened at) of every tracked key;
        a key not listed is healthy (closed, no recent failure)."""
        return [(p, m, STATE_NAMES[b.state], b.failures, b.opened_at) for (p, m), b in self._by_key.items()]

    def available(self, route: Route, now: float) -> bool:
        b = self._by_key.get(self.key(route))
        cfg = route.endpoint.circuit_breaker
        return b is None or not cfg.enabled or b.available(now, cfg)

    def acquire(self, route: Route, now: float) -> int:
        b = self._by_key.get(self.key(route))
        cfg = route.endpoint.circuit_breaker
        if b is None or not cfg.enabled:
            return PASS
        before = b.state
        ticket = b.acquire(now, cfg)
        self._changed(route, b, before)
        return ticket

    def panic_pass(self, route: Route) -> bool:
        b = self._by_key.get(self.key(route))
        return b is not None and b.panic_pass(route.endpoint.circuit_breaker)

    def release(self, route: Route, ticket: int, outcome: bool | None, now: float) -> None:
        cfg = route.endpoint.circuit_breaker
        key = self.key(route)
        b = self._by_key.get(key)
        if not cfg.enabled or (b is None and not outcome):
            return                                # healthy and untracked: nothing to remember
        if b is None:
            self._make_room()
            b = self._by_key[key] = CircuitBreaker()
        before = b.state
        b.release(ticket, outcome, now, cfg)
        self._changed(route, b, before)
        if b.state == CLOSED and not b.failures and not b.probes:
            del self._by_key[key]                 # healed: forget it

    def retry_after(self, route: Route, now: float) -> float:
        b = self._by_key.get(self.key(route))
        return 0.0 if b is None else b.retry_after(now, route.endpoint.circuit_breaker)

    def _make_room(self) -> None:
        if len(self._by_key) < MAX_KEYS:
            return
        victim = next((k for k, b in self._by_key.items() if b.state == CLOSED), next(iter(self._by_key)))
        dropped = self._by_key.pop(victim)
        if dropped.state != CLOSED:
            self._report(victim, dropped.labels, CLOSED)

    def _changed(self, route: Route, b: CircuitBreaker, before: int) -> None:
        labels = (route.endpoint.name, route.served.name, route.provider.name)
        if b.state != CLOSED:
            b.labels.add(labels)
        if b.state == before:
            return
        key = self.key(route)
        log.warning("circuit of %s model %r is now %s", key[0], key[1], STATE_NAMES[b.state])
        self._report(key, b.labels | {labels}, b.state)
        if b.state == CLOSED:
            b.labels.clear()

    def _report(self, key: Key, label_sets: set[Labels], state: int) -> None:
        for labels in label_sets:
            states = self._open.setdefault(labels, {})
            worst_before = max(states.values(), default=CLOSED)
            if state == CLOSED:
                states.pop(key, None)
            else:
                states[key] = state
            worst = max(states.values(), default=CLOSED)
            if not states:
                del self._open[labels]
            if worst != worst_before:
                for listener in self.listeners:
                    listener(*labels, worst)
