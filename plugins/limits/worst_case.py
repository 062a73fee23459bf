"""The most one request may cost, held against its budgets while it runs.

    prompt estimate x the highest input-side price
    + max output tokens x choices x the highest output-side price

at the chosen served model's ``prices`` (USD per million tokens). The output bound is
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

if TYPE_CHECKING:
    from proxy.apis import Api
    from proxy.context import Route

_INPUT_PRICES = ("input", "cached_input", "cache_creation")
_OUTPUT_PRICES = ("output", "reasoning")


def generates_output(api: Api) -> bool:
    """Whether the API's answers are generated tokens (it caps output; embeddings and counts don't)."""
    return any(cap == "max_output_tokens" for _, cap in api.capped)


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
    for path, cap in api.capped:
        if cap != "max_n":
            continue
        value: Any = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        most = max(most, _number(value))
    return most


def output_bound(api: Api, body: dict[str, Any], route: Route) -> int:
    if not generates_output(api):
        return 0
    asked = api.max_output_tokens(body)
    return (asked if asked > 0 else route.endpoint.caps.max_output_tokens) * choices(api, body)


def worst_case_usd(prices: dict[str, float], prompt_tokens: int, output_tokens: int) -> float:
    if not prices:
        return 0.0
    per_input = max(prices.get(k, 0.0) for k in _INPUT_PRICES)
    per_output = max(prices.get(k, 0.0) for k in _OUTPUT_PRICES)
    return (prompt_tokens * per_input + output_tokens * per_output) / 1_000_000


def hold_seconds(route: Route) -> float:
    """How long a hold may outlive its request: every attempt's total timeout, plus a minute."""
    return route.endpoint.timeouts.total_seconds * route.endpoint.retry.max_attempts + 60
