"""Spend of each attempt from the served model's price table (USD per million tokens).

Runs first among the usage hooks so the ledger, metrics and budgets all see
the same ``cost_usd``. Cached input is billed at its own price when given
(otherwise at the input price), reasoning at its own price (otherwise as output).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy import hookimpl

if TYPE_CHECKING:
    from proxy.context import RequestContext, UsageRecord
    from proxy.usage import Usage


def cost_usd(prices: dict[str, float], u: Usage) -> float:
    if not prices:
        return 0.0
    p_in = prices.get("input", 0.0)
    p_out = prices.get("output", 0.0)
    p_cached = prices.get("cached_input", p_in)
    p_reason = prices.get("reasoning", p_out)
    cached = min(u.cached_input_tokens, u.input_tokens)
    reasoning = min(u.reasoning_tokens, u.output_tokens)
    total = ((u.input_tokens - cached) * p_in + cached * p_cached
             + u.cache_creation_tokens * prices.get("cache_creation", p_in)
             + (u.output_tokens - reasoning) * p_out + reasoning * p_reason)
    return total / 1_000_000


@hookimpl(tryfirst=True)
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    if ctx.route is not None:
        record.cost_usd = cost_usd(ctx.route.served.prices, record.usage)
