"""The most one request may cost, held against its budgets while it runs.

    prompt estimate x the highest input-side price
    + max output tokens x choices x the highest output-side price

at the chosen served model's prices (USD per million tokens: its config ``prices``, else the
price catalogue's, taking the highest long-context tier; a model neither prices holds
nothing, as it spends nothing). The output bound is
the request's own ``max_tokens`` (``max_completion_tokens``, ``max_output_tokens``,
Gemini's ``maxOutputTokens``); when it names none, the endpoint's
``caps.max_output_tokens`` (default 131072) stands for the model's maximum output, so
set that cap to the model's real limit for tighter holds. ``n``, ``best_of`` and
Gemini's ``candidateCount`` multiply the output. Embeddings and token counts produce no
output tokens. The prompt estimate is the API's own (about 4 bytes of request JSON a
token): above the real count for ordinary text and images, possibly below it for text
that is mostly CJK, which is the case where a hold is not an upper bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins.metering.pricing import route_prices

if TYPE_CHECKING:
    from proxy.apis import Api
    from proxy.context import Route

#: per wire API: (it generates output tokens, the paths of its fields asking for several answers);
#: read from ``Api.capped`` once, not per request
_SHAPES: dict[str, tuple[bool, tuple[tuple[str, ...], ...]]] = {}


def _shape(api: Api) -> tuple[bool, tuple[tuple[str, ...], ...]]:
    found = _SHAPES.get(api.id)
    if found is None:
        # Embeddings and token counts cap no output: they generate none.
        found = _SHAPES[api.id] = (any(cap == "max_output_tokens" for _, cap in api.capped),
                                   tuple(tuple(path.split(".")) for path, cap in api.capped if cap == "max_n"))
    return found


def generates_output(api: Api) -> bool:
    """Whether the API's answers are generated tokens (it caps output; embeddings and counts don't)."""
    return _shape(api)[0]


def _number(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return 0
    return 0


def choices(api: Api, body: dict[str, Any]) -> int:
    """How many answers the request asks for: the largest of its ``max_n``-capped fields, at least 1."""
    most = 1
    for path in _shape(api)[1]:
        value: Any = body
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            most = max(most, _number(value))
    return most


def output_bound(api: Api, body: dict[str, Any], route: Route, asked: int | None = None) -> int:
    """Output tokens the request may produce; *asked*: its ``max_output_tokens`` when already read."""
    if not _shape(api)[0]:
        return 0
    if asked is None:
        asked = api.max_output_tokens(body)
    return (asked if asked > 0 else route.endpoint.caps.max_output_tokens) * choices(api, body)


async def hold_rates(route: Route) -> dict[str, float]:
    """The highest rate of each kind an attempt on *route* may be billed at (what pricing bills)."""
    source = await route_prices(route)
    if source.config_prices is not None:
        return source.config_prices
    if source.catalogue is None:
        return {}
    rates = dict(source.catalogue.rates)
    for _, tier in source.catalogue.tiers:          # the prompt estimate may sit below a tier's threshold
        for kind, rate in tier.items():
            rates[kind] = max(rates.get(kind, 0.0), rate)
    return rates


def worst_case_usd(prices: dict[str, float], prompt_tokens: int, output_tokens: int) -> float:
    if not prices:
        return 0.0
    price = prices.get
    per_input = max(price("input", 0.0), price("cached_input", 0.0), price("cache_creation", 0.0))
    per_output = max(price("output", 0.0), price("reasoning", 0.0))
    return (prompt_tokens * per_input + output_tokens * per_output) / 1_000_000


def hold_seconds(route: Route) -> float:
    """How long a hold may outlive its request: every attempt's total timeout, plus a minute."""
    return route.endpoint.timeouts.total_seconds * route.endpoint.retry.max_attempts + 60
