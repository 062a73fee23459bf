"""Retries, fallbacks and circuit breaking around provider attempts.

One request tries its chosen served model, retrying retryable failures
(``retry.retry_on``: connect errors, timeouts, 429, 5xx by default) with
exponential backoff and full jitter that honours ``Retry-After``, then the
endpoint's ``fallbacks`` in order. Bounds: ``retry.max_attempts`` per request,
``retry.attempts_per_model`` per served model, and a global retry budget (as
Envoy's: retries in flight may be at most ``server.retry_budget_percent`` of
the active requests, but always ``retry_budget_min_concurrency``).

Nothing is retried once the first byte has reached the client
(``ctx.committed``): a stream that breaks then ends with an error event.

Circuit breakers (:mod:`proxy.breakers`) track each provider model: an open
one is skipped (on to the fallbacks), and when every candidate is open a
bounded fraction of requests still goes through (panic mode) instead of none.
A 429 whose body says the quota is gone is not retried on that provider.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from proxy.breakers import PANIC, REFUSED, Breakers, failed, verdict
from proxy.errors import GatewayError, UpstreamError, UpstreamStatusError
from proxy.stash import StashKey

if TYPE_CHECKING:
    from aiohttp import web

    from proxy.config import RetryConfig
    from proxy.context import RequestContext, Route
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.resilience")

Forward = Callable[["Gateway", "RequestContext", "Route", int], Awaitable["web.StreamResponse"]]


class CircuitOpen(UpstreamError):
    status = 503
    type = "service_unavailable"
    reason = "circuit_open"


# -- deciding ------------------------------------------------------------------

def reason_of(exc: GatewayError) -> str:
    """The failure's label: connect, timeout, protocol or the provider's status code."""
    return str(getattr(exc, "reason", exc.type))


def is_retryable(cfg: RetryConfig, exc: GatewayError) -> bool:
    if not isinstance(exc, UpstreamError) or isinstance(exc, CircuitOpen):
        return False                       # our own refusals (limits, validation) are final
    reason = reason_of(exc)
    if reason in cfg.retry_on:
        return True
    if isinstance(exc, UpstreamStatusError):
        if exc.status in (401, 403):        # our credentials: another try will not help
            return False
        return f"{exc.status // 100}xx" in cfg.retry_on
    return False


def quota_exhausted(gateway: Gateway, route: Route, exc: GatewayError) -> bool:
    """A 429 whose body (in the provider's format) says the quota is gone: waiting will not help."""
    if not isinstance(exc, UpstreamStatusError) or exc.status != 429 or route.provider_api == "local":
        return False
    return gateway.apis.get(route.provider_api).quota_exhausted(exc.body)


def retry_after_seconds(headers: dict[str, str]) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), or None."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_seconds(cfg: RetryConfig, retry_number: int, rnd: Callable[[], float] = random.random) -> float:
    """Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2^(n-1))]."""
    cap: float = min(cfg.backoff_max_seconds, cfg.backoff_base_seconds * (2 ** max(0, retry_number - 1)))
    return rnd() * cap


class RetryBudget:
    """Retries in flight may be at most *percent* of active requests (but always *minimum*)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.exhausted = 0

    def try_acquire(self, active_requests: int, percent: float, minimum: int) -> bool:
        if self.in_flight >= max(minimum, percent / 100 * active_requests):
            self.exhausted += 1
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight -= 1


class Resilience:
    """Per-process state that outlives a config reload: the breakers and the retry budget."""

    def __init__(self) -> None:
        self.breakers = Breakers()
        self.budget = RetryBudget()
        #: called as listener(endpoint, served_model, provider, state) when a served model's worst circuit
        #: state changes (proxy.breakers)
        self.listeners = self.breakers.listeners

    def healthy(self, candidates: list[Route]) -> list[Route]:
        now = time.monotonic()
        return [r for r in candidates if self.breakers.available(r, now)]

    def panic_route(self, candidates: list[Route]) -> Route:
        """Every candidate is open: the first whose breaker grants a panic pass, else CircuitOpen."""
        for route in candidates:
            if self.breakers.panic_pass(route):
                log.warning("every circuit of endpoint %r is open: letting one request through to %s",
                            route.endpoint.name, route.upstream_model)
                return route
        raise self.all_open_error(candidates)

    def all_open_error(self, candidates: list[Route]) -> CircuitOpen:
        now = time.monotonic()
        wait = min(self.breakers.retry_after(r, now) for r in candidates)
        ep = candidates[0].endpoint.name
        return CircuitOpen(f"every served model of endpoint {ep!r} is failing; try again later",
                           headers={"Retry-After": str(max(1, int(wait + 0.999)))})


#: the gateway's breakers and retry budget (see :func:`of`)
RESILIENCE: StashKey[Resilience] = StashKey("resilience")


def of(gateway: Gateway) -> Resilience:
    res = gateway.stash.get(RESILIENCE)
    if res is None:
        res = gateway.stash[RESILIENCE] = Resilience()
    return res


# -- the attempt loop ---------------------------------------------------------------

#: set on a request that was refused a retry because the retry budget was used up
RETRY_BUDGET_EXHAUSTED: StashKey[bool] = StashKey("retry_budget_exhausted")


def plan(first: Route, candidates: list[Route]) -> list[Route]:
    """The chosen route, then the endpoint's fallbacks in their order."""
    if not first.endpoint.fallbacks:
        return [first]                    # the common case: nothing to look up
    by_name = {r.served.name: r for r in candidates}
    order = [first]
    for name in first.endpoint.fallbacks:
        r = by_name.get(name)
        if r is not None and r.served.name != first.served.name:
            order.append(r)
    return order


async def call(gateway: Gateway, ctx: RequestContext, first: Route, candidates: list[Route],
               forward: Forward, *, panic: bool = False) -> web.StreamResponse:
    """Try *first*, then retries and fallbacks, until one answers or the bounds run out.

    *panic*: *first*'s circuit is open and :meth:`Resilience.panic_route` let this request through
    anyway: its first attempt goes without acquiring the breaker."""
    res = of(gateway)
    breakers = res.breakers
    cfg = first.endpoint.retry
    server = gateway.settings.server
    last: GatewayError | None = None
    attempt = 0
    out_of_quota: set[str] = set()          # providers whose 429 said the quota is gone: not again
    for route in plan(first, candidates):
        if route.provider.name in out_of_quota:
            continue
        for tries in range(cfg.attempts_per_model):
            if attempt >= cfg.max_attempts:
                break
            if attempt and not res.budget.try_acquire(sum(gateway.in_flight.values()),
                                                      server.retry_budget_percent,
                                                      server.retry_budget_min_concurrency):
                log.warning("request %s: retry budget exhausted, not retrying", ctx.request_id)
                ctx.stash[RETRY_BUDGET_EXHAUSTED] = True
                assert last is not None
                raise last
            retry_slot = attempt > 0
            try:
                ticket = PANIC if panic and attempt == 0 else breakers.acquire(route, time.monotonic())
                if ticket == REFUSED:
                    break                                # open: on to the next fallback
                attempt += 1
                ctx.route = route
                outcome: bool | None = None
                try:
                    response = await forward(gateway, ctx, route, attempt)
                    outcome = failed(ctx.attempts[-1].error if ctx.attempts else "")
                    return response
                except GatewayError as exc:
                    outcome = verdict(exc)
                    if ctx.committed or not is_retryable(cfg, exc):
                        raise
                    last = exc
                finally:
                    breakers.release(route, ticket, outcome, time.monotonic())
            finally:
                if retry_slot:
                    res.budget.release()
            if quota_exhausted(gateway, route, last):
                out_of_quota.add(route.provider.name)
                break                                    # on to a fallback on another provider
            # Decide how long to wait before the next try of this same model.
            wait = retry_after_seconds(getattr(last, "upstream_headers", {}) or {})
            if wait is not None and wait > cfg.retry_after_max_seconds:
                break                                    # too long: fall back instead
            if tries + 1 < cfg.attempts_per_model and attempt < cfg.max_attempts:
                await asyncio.sleep(max(wait or 0.0, backoff_seconds(cfg, tries + 1)))
    if last is None:
        raise res.all_open_error(candidates)
    raise last
