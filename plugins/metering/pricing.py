"""Spend of each attempt, in USD: the served model's ``prices`` from the config, else the catalogue.

Runs first among the usage hooks so the ledger, metrics and budgets all see
the same ``cost_usd``. Prices are USD per million tokens of each kind: input,
cached_input, cache_creation, cache_creation_1h (Anthropic's one-hour cache writes),
output, reasoning. A kind without a price of its own is billed as input (cached
input, cache writes), as a cache write (one-hour writes) or as output (reasoning).

A served model with ``prices`` in the config is billed at those (the override);
one without is billed at the catalogue's prices (:mod:`plugins.metering.catalogue`).
A model neither knows has **no** cost: ``cost_usd`` is None (NULL in the ledger,
"unknown" in reports), never a made-up 0, and the metrics count it in
``relaygate_unpriced_requests_total``. An attempt that used no tokens costs 0
whatever the model.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import threading
from types import ModuleType
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proxy import hookimpl

if TYPE_CHECKING:
    from plugins.metering.catalogue import CataloguePrice
    from proxy.context import RequestContext, Route, UsageRecord
    from proxy.gateway import Gateway
    from proxy.usage import Usage

PRICE_KINDS = ("input", "cached_input", "cache_creation", "cache_creation_1h", "output", "reasoning")


def cost_usd(prices: dict[str, float], u: Usage) -> float:
    """The cost of *u* at *prices* (USD per million tokens of each kind)."""
    if not prices:
        return 0.0
    p_in = prices.get("input", 0.0)
    p_out = prices.get("output", 0.0)
    p_cached = prices.get("cached_input", p_in)
    p_reason = prices.get("reasoning", p_out)
    p_write = prices.get("cache_creation", p_in)
    cached = min(u.cached_input_tokens, u.input_tokens)
    reasoning = min(u.reasoning_tokens, u.output_tokens)
    hour = min(u.cache_creation_1h_tokens, u.cache_creation_tokens)
    total = ((u.input_tokens - cached) * p_in + cached * p_cached
             + (u.cache_creation_tokens - hour) * p_write + hour * prices.get("cache_creation_1h", p_write)
             + (u.output_tokens - reasoning) * p_out + reasoning * p_reason)
    return total / 1_000_000


@dataclass(frozen=True)
class PriceSource:
    """Where a served model's prices come from: the config, the catalogue, or nowhere (``unknown``)."""

    kind: str                                   # "config", "catalogue" or "unknown"
    config_prices: dict[str, float] | None = None
    catalogue: CataloguePrice | None = None

    @property
    def known(self) -> bool:
        return self.kind != "unknown"

    def describe(self) -> str:
        if self.catalogue is not None:
            return f"catalogue {_catalogue().catalogue_label()}: {self.catalogue.provider} model {self.catalogue.model}"
        return "config (the served model's prices)" if self.kind == "config" else "unknown"

    def rates_for(self, input_tokens: int = 0) -> dict[str, float]:
        if self.config_prices is not None:
            return self.config_prices
        return self.catalogue.rates_for(input_tokens) if self.catalogue is not None else {}

    def version(self) -> str:
        """What a bill cites: the catalogue's package version and price date, or the config."""
        if self.catalogue is not None:
            return f"{_catalogue().catalogue_label()} {self.catalogue.provider}/{self.catalogue.model}"
        return "config" if self.kind == "config" else ""

    def cost(self, u: Usage) -> float | None:
        if not (u.input_tokens or u.output_tokens or u.cache_creation_tokens):
            return 0.0
        if not self.known:
            return None
        return cost_usd(self.rates_for(u.input_tokens + u.cache_creation_tokens), u)


UNKNOWN = PriceSource("unknown")


def price_source(provider_type: str, base_url: str, model: str, config_prices: dict[str, float],
                 day: dt.date | None = None) -> PriceSource:
    """The prices one served model is billed at: the config's when given, else the catalogue's."""
    if config_prices:
        return PriceSource("config", config_prices=config_prices)
    found = _catalogue().lookup(provider_type, base_url, model, day or dt.date.today())
    return PriceSource("catalogue", catalogue=found) if found is not None else UNKNOWN


def route_prices(route: Route) -> PriceSource:
    provider = route.provider
    return price_source(provider.config.type, provider.base_url, route.upstream_model, route.served.prices)


@functools.cache
def _catalogue() -> ModuleType:
    """:mod:`plugins.metering.catalogue`, imported on first use: genai-prices stays off the start-up path."""
    return importlib.import_module("plugins.metering.catalogue")


def _load_catalogue() -> None:
    _catalogue().load()


@hookimpl
def relaygate_startup(gateway: Gateway) -> None:
    # Imported and read (~0.2 s of CPU) by a thread while the gateway gets ready, not before: a
    # request that needs a price sooner waits on the import lock, and gets the same price.
    threading.Thread(target=_load_catalogue, name="relaygate-price-catalogue", daemon=True).start()


@hookimpl(tryfirst=True)
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    if ctx.route is None:
        return
    source = route_prices(ctx.route)
    cost = source.cost(record.usage)
    record.price_source, record.price_version = source.kind, source.version()
    if record.cache_hit:          # the response cache answered: nothing was spent, this much was saved
        record.cost_usd, record.saved_cost_usd = 0.0, cost
    else:
        record.cost_usd = cost
