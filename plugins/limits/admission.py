"""Rate limits and budgets as pipeline hooks: admit (check and reserve) and settle.

* ``relaygate_admit_request``: one backend call checks every budget and window
  that applies to the (key, endpoint) pair and reserves all of them, or none.
  Token limits reserve ``estimate_input_tokens + max_output_tokens``; budgets
  hold the request's worst-case cost (plugins/limits/worst_case.py).
* ``relaygate_record_usage`` (after pricing set ``cost_usd``): one backend call
  replaces the reservations with the real token count, adds the spend and gives
  the budget holds back (a failed attempt, which may be retried, only shrinks them).
* ``relaygate_request_finished``: refunds a reservation no attempt settled
  (another admission hook refused, or the provider call never started) and the
  rest of any budget hold.

Refusals: a rate limit is ``429`` with ``Retry-After``. A budget is ``403``
(type ``budget_exceeded``) because it resets only at the end of the day or
month and coding agents retry a 429 for minutes (clients/results/error_matrix);
only when the period ends within five minutes it is a ``429`` with
``Retry-After`` instead. A budget that only the holds of requests in flight keep
from fitting this request is a ``429`` too: it frees up as they finish.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plugins.limits.config import LimitsConfig
from plugins.limits.rules import Budget, Limit, Plan, Rules
from plugins.limits.windows import BudgetCharge, LimiterBackend, MemoryBackend, Settlement
from plugins.limits.worst_case import hold_rates, hold_seconds, output_bound, worst_case_usd
from plugins.metrics.prometheus import METRICS
from proxy import hookimpl
from proxy.hooks import active_when
from proxy.errors import GatewayError, LimitExceeded, PermissionDenied
from proxy.gateway import DEPENDENCY_CHECKS, HEALTH_CHECKS
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.config import EndpointConfig
    from proxy.context import RequestContext, Route, UsageRecord
    from proxy.gateway import Gateway
    from proxy.sections import Spec

log = logging.getLogger("relaygate.limits")

BUDGET_429_WITHIN_S = 300                   # a budget resetting sooner than this answers 429
HELD_RETRY_AFTER_S = 2                      # a budget held by requests in flight frees up as they end
_NANO = 1_000_000_000


class BudgetExceeded(PermissionDenied):
    status = 403
    type = "budget_exceeded"


class LimiterUnavailable(GatewayError):
    status = 503
    type = "rate_limiter_unavailable"


@dataclass(slots=True)
class Reservation:
    plan: Plan
    member: str
    tokens: list[tuple[Limit, int]]          # token windows and the amount reserved in each
    settled: bool = False
    attempts: int = 0
    holds: list[str] = field(default_factory=list)   # budget buckets this request holds its cost in
    released: bool = False                   # the holds were given back


#: what a request reserved at admission, settled by its attempts or refunded at the end
RESERVATION: StashKey[Reservation] = StashKey("limits.reservation")


@dataclass
class Limiter:
    """The live state: compiled rules, the backend and what it was built from."""

    config: LimitsConfig
    rules: Rules
    backend: LimiterBackend
    wall: Any = time.time                    # budget periods follow the wall clock (UTC)
    pending: set[asyncio.Task[None]] = field(default_factory=set)


#: rebuilt on every config load; keeps its backend (and so its windows) when that did not change
LIMITER: StashKey[Limiter] = StashKey("limits.limiter")


def make_backend(config: LimitsConfig) -> LimiterBackend:
    if config.backend == "redis":
        from plugins.limits.redis_backend import RedisBackend
        assert config.redis_url is not None
        return RedisBackend(config.redis_url.get_secret_value(), config.redis_prefix)
    return MemoryBackend()


def _same_backend(a: LimitsConfig, b: LimitsConfig) -> bool:
    return (a.backend, a.redis_url, a.redis_prefix) == (b.backend, b.redis_url, b.redis_prefix)


# -- lifecycle ------------------------------------------------------------------


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"limits": LimitsConfig}


@hookimpl
async def relaygate_config_loaded(gateway: Gateway) -> None:
    config = gateway.settings.section(LimitsConfig)
    old = gateway.stash.get(LIMITER)
    if old is not None and _same_backend(old.config, config):
        backend = old.backend                 # keep the windows across a reload
    else:
        backend = make_backend(config)
        if old is not None:
            await old.backend.close()
    gateway.stash[LIMITER] = Limiter(config, Rules(config), backend)
    # Fail-closed: without Redis every request is refused, so the replica is not ready. Fail-open
    # serves on without limits: degraded, and still ready (else Redis down = every replica out).
    for checks in (HEALTH_CHECKS, DEPENDENCY_CHECKS):
        gateway.stash.setdefault(checks, {}).pop("limits_redis", None)
    if config.backend == "redis":
        checks = HEALTH_CHECKS if config.on_backend_error == "deny" else DEPENDENCY_CHECKS
        gateway.stash[checks]["limits_redis"] = backend.ping


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    limiter = gateway.stash.pop(LIMITER, None)
    if limiter is not None:
        if limiter.pending:
            await asyncio.gather(*limiter.pending, return_exceptions=True)
        await limiter.backend.close()


# -- one request ----------------------------------------------------------------


def _message_limit(limit: Limit, used: int, cost: int, retry_after: float) -> str:
    return (f"{limit.describe()} exceeded: {used} in use in the last minute, this request needs {cost}; "
            f"retry after {max(1, int(retry_after + 0.999))} s")


def usd(nano: int) -> str:
    """Dollars for a message: cents when that is exact, else up to six decimals."""
    value = nano / _NANO
    text = f"{value:,.2f}"
    return "$" + (text if abs(value * 100 - round(value * 100)) < 1e-9 else f"{value:,.6f}".rstrip("0"))


def _message_budget(budget: Budget, spent_nano: int, reset: float, now: float) -> str:
    at = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    left = int(reset - now)
    return (f"{budget.describe()} exhausted: ${spent_nano / _NANO:,.2f} spent; it resets at {at} "
            f"(in {left // 3600}h {left % 3600 // 60}m)")


def _budget_refusal(budget: Budget, spent: int, held: int, cost: int, reset: float, now: float) -> GatewayError:
    """Why a budget refused: spent, too little left for this request, or held by requests in flight."""
    if spent >= budget.nano_usd:
        message = _message_budget(budget, spent, reset, now)
    elif spent + cost > budget.nano_usd:
        message = (f"{budget.describe()} has {usd(budget.nano_usd - spent)} left ({usd(spent)} spent), and this "
                   f"request may cost up to {usd(cost)} (its prompt and max output tokens at the served model's "
                   f"price); ask for fewer output tokens, or wait until it resets at "
                   f"{datetime.fromtimestamp(reset, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}")
    else:
        return LimitExceeded(
            f"{budget.describe()}: {usd(spent)} spent and {usd(held)} held by requests in flight, so this "
            f"request (up to {usd(cost)}) does not fit until some of them finish; retry shortly",
            retry_after=HELD_RETRY_AFTER_S, limit=budget.label)
    if reset - now <= BUDGET_429_WITHIN_S:
        return LimitExceeded(message, retry_after=reset - now, limit=budget.label)
    return BudgetExceeded(message)


def _count_refusal(ctx: RequestContext, label: str) -> None:
    metrics = ctx.gateway.stash.get(METRICS)
    if metrics is not None:
        endpoint = ctx.endpoint.name if ctx.endpoint else ctx.endpoint_name
        metrics.inc(metrics.m.rate_limited, (ctx.surface, endpoint, label))


def _has_rules(gateway: Gateway, endpoint: EndpointConfig | None) -> bool:
    limiter = gateway.stash.get(LIMITER)
    return limiter is not None and not limiter.rules.empty


@hookimpl
@active_when(_has_rules)
def relaygate_admit_request(ctx: RequestContext, route: Route) -> Any:
    limiter = ctx.gateway.stash.get(LIMITER)
    if limiter is None or limiter.rules.empty or ctx.principal is None:
        return None                             # no rules: no coroutine, no cost
    plan = limiter.rules.plan(ctx.principal, route.endpoint.name)
    if not plan:
        return None
    return _admit(limiter, ctx, route, plan)


async def _admit(limiter: Limiter, ctx: RequestContext, route: Route, plan: Plan) -> None:
    charges: list[tuple[Limit, int]] = [(limit, 1) for limit in plan.requests]
    tokens: list[tuple[Limit, int]] = []
    body = ctx.body or {}
    prompt = asked = 0
    if plan.tokens or plan.budgets:
        prompt, asked = ctx.api.estimate_input_tokens(body, ctx.raw_body), ctx.api.max_output_tokens(body)
    if plan.tokens:
        estimate = prompt + asked
        tokens = [(limit, min(estimate, limit.capacity)) for limit in plan.tokens]
        charges.extend(tokens)
    now = limiter.wall()
    buckets = [b.bucket(now) for b in plan.budgets]
    cost = 0
    if plan.budgets:
        output = output_bound(ctx.api, body, route, asked)
        cost = round(worst_case_usd(await hold_rates(route), prompt, output) * _NANO)
        hold_s = hold_seconds(route)
        budget_charges = [BudgetCharge(name, b.nano_usd, cost, hold_s) for (name, _), b in zip(buckets, plan.budgets)]
    try:
        denial = await limiter.backend.acquire(ctx.request_id, charges, budget_charges if plan.budgets else [])
    except Exception as exc:                   # Redis down or slow
        if limiter.config.on_backend_error == "allow":
            log.warning("rate limiter unavailable, admitting request %s: %s", ctx.request_id, exc)
            return
        log.error("rate limiter unavailable, refusing request %s: %s", ctx.request_id, exc)
        raise LimiterUnavailable("the rate limiter is unavailable; try again shortly",
                                 headers={"Retry-After": "1"}) from None
    if denial is None:
        holds = [name for name, _ in buckets] if cost > 0 else []
        ctx.stash[RESERVATION] = Reservation(plan, ctx.request_id, tokens, holds=holds)
        return
    if denial.kind == "limit":
        limit, cost = charges[denial.index]
        _count_refusal(ctx, limit.label)
        raise LimitExceeded(_message_limit(limit, denial.used, cost, denial.retry_after),
                            retry_after=denial.retry_after, limit=limit.label)
    budget = plan.budgets[denial.index]
    _count_refusal(ctx, budget.label)
    raise _budget_refusal(budget, denial.used, denial.held, cost, buckets[denial.index][1], now)


def _settlements(res: Reservation, actual: int) -> list[Settlement]:
    res.attempts += 1
    if not res.settled:
        res.settled = True
        return [(limit, reserved, actual, f"{res.member}#1") for limit, reserved in res.tokens]
    # a further attempt (fallback) had no reservation: charge what it used as a new entry
    return [(limit, 0, actual, f"{res.member}#{res.attempts}") for limit in res.plan.tokens]


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> Any:
    res = ctx.stash.get(RESERVATION)
    if res is None:
        return None
    limiter = ctx.gateway.stash.get(LIMITER)
    if limiter is None:
        return None
    u = record.usage
    # A response-cache hit used no provider tokens: its token windows get their reservation back.
    used = 0 if record.cache_hit else u.total_tokens or u.input_tokens + u.output_tokens
    settlements = _settlements(res, used)
    spends: list[tuple[str, int, int]] = []
    nano = round((record.cost_usd or 0.0) * _NANO)      # an unpriced model spends no budget
    if nano > 0 and res.plan.budgets:
        now = limiter.wall()
        for b in res.plan.budgets:
            bucket, reset = b.bucket(now)
            spends.append((bucket, nano, int(reset - now) + 3600))
    holds: list[tuple[str, int]] = []
    release = False
    if res.holds and not res.released:
        holds = [(bucket, nano) for bucket in res.holds]
        # A success (or a client gone) is the last attempt: give the whole hold back. A failure
        # may be retried within the same hold, so it only shrinks by what it spent.
        release = res.released = record.status < 400 or record.disconnected
    if not settlements and not spends and not holds:
        return None
    return _settle(limiter, res.member, settlements, spends, holds, release)


async def _settle(limiter: Limiter, member: str, settlements: list[Settlement],
                  spends: list[tuple[str, int, int]], holds: Sequence[tuple[str, int]] = (),
                  release: bool = False) -> None:
    try:
        await limiter.backend.settle(member, settlements, spends, holds, release)
    except Exception as exc:                   # never fail the request; windows and holds expire on their own
        log.error("rate limiter settle failed for %s: %s", member, exc)


@hookimpl
def relaygate_request_finished(ctx: RequestContext) -> None:
    res = ctx.stash.get(RESERVATION)
    if res is None:
        return
    refund_tokens = not res.settled and bool(res.tokens)
    release = bool(res.holds) and not res.released
    limiter = ctx.gateway.stash.get(LIMITER)
    if limiter is None or not (refund_tokens or release):
        return
    # Admitted, but no provider attempt ran (give the tokens back), or the last attempt failed
    # (give back the rest of the budget holds).
    settlements = _settlements(res, 0) if refund_tokens else []
    res.released = True
    task = asyncio.get_running_loop().create_task(
        _settle(limiter, res.member, settlements, [], [(bucket, 0) for bucket in res.holds], release))
    limiter.pending.add(task)
    task.add_done_callback(limiter.pending.discard)
