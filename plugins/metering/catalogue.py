"""Prices out of the box: pydantic's ``genai-prices`` catalogue, as USD per million tokens.

The catalogue ships inside the package (no network at run time) and knows input,
cached-input, cache-write and reasoning prices, prices that change on a date, and
long-context tiers ("above 272k input tokens every token costs more"). Its own
``calc_price`` costs about half a millisecond, too much for every request, so a
model's prices are read once into a :class:`CataloguePrice` of plain floats
(cached per model and day) and the arithmetic is :func:`plugins.metering.pricing.cost_usd`.

The gateway process does not import this module: the package and its snapshot take ~11 MB and
~0.2 s of CPU, so a short-lived helper process runs it and answers with those floats
(:mod:`plugins.metering.price_helper`). Commands and tests may import it directly.

Which catalogue provider prices a gateway provider: the one whose API URL
pattern matches the provider's base URL (Groq, Mistral, ... behind an
``openai_compatible`` type), else the one of its type (``openai``, ``anthropic``,
``gemini``/``vertex`` -> Google, ``azure_openai`` -> Azure). A self-hosted server
matches neither and stays unpriced unless the config gives ``prices``.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices import data_snapshot
from genai_prices.types import ConditionalPrice, ModelPrice, StartDateConstraint, TieredPrices

from plugins.metering.rates import PROVIDER_OF_TYPE, CataloguePrice

#: our price kinds -> the catalogue's price keys, in display order
PRICE_KEYS = {"input": "input_mtok", "cached_input": "cache_read_mtok", "cache_creation": "cache_write_mtok",
              "cache_creation_1h": "cache_write_1h_mtok", "output": "output_mtok",
              "reasoning": "output_reasoning_mtok"}
#: a kind the catalogue does not price separately is billed as this one (as genai-prices does)
BILLED_AS = {"cached_input": "input", "cache_creation": "input", "reasoning": "output",
             "cache_creation_1h": "cache_creation"}     # after cache_creation: it falls back to it


def load() -> None:
    """Read the catalogue's data now (about 70 ms), before the first question."""
    data_snapshot.get_snapshot()


def catalogue_version() -> str:
    return str(genai_prices.__version__)


@functools.cache
def catalogue_date() -> str:
    """The newest dated price change the catalogue knows that is already in force (YYYY-MM-DD)."""
    today = dt.date.today()
    dates = [c.constraint.start_date for p in data_snapshot.get_snapshot().providers for m in p.models
             if isinstance(m.prices, list) for c in m.prices
             if isinstance(c, ConditionalPrice) and isinstance(c.constraint, StartDateConstraint)
             and c.constraint.start_date <= today]
    return max(dates).isoformat() if dates else "undated"


def catalogue_label() -> str:
    return f"genai-prices {catalogue_version()} (prices dated up to {catalogue_date()})"


def _float(value: Decimal | TieredPrices | None, tier: int | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, TieredPrices):
        if tier is None:
            return float(value.base)
        return float(next((t.price for t in value.tiers if t.start == tier), value.base))
    return float(value)


def _rates(price: ModelPrice, tier: int | None) -> tuple[dict[str, float], frozenset[str]]:
    found = {kind: _float(getattr(price, key), tier) for kind, key in PRICE_KEYS.items()}
    priced = frozenset(kind for kind, value in found.items() if value is not None)
    rates = {kind: value for kind, value in found.items() if value is not None}
    rates.setdefault("input", 0.0)
    rates.setdefault("output", 0.0)
    for kind, fallback in BILLED_AS.items():
        rates.setdefault(kind, rates[fallback])
    return rates, priced


def from_model_price(provider: str, model: str, price: ModelPrice) -> CataloguePrice:
    thresholds = sorted({t.start for key in PRICE_KEYS.values()
                         if isinstance(value := getattr(price, key), TieredPrices) for t in value.tiers})
    rates, priced = _rates(price, None)
    return CataloguePrice(provider, model, rates, tuple((start, _rates(price, start)[0]) for start in thresholds),
                          priced)


def _find(provider_type: str, base_url: str, model: str) -> tuple[Any, Any] | None:
    snapshot = data_snapshot.get_snapshot()
    candidates: list[dict[str, str]] = []
    if base_url:
        candidates.append({"provider_api_url": base_url})
    if provider_type in PROVIDER_OF_TYPE:
        candidates.append({"provider_id": PROVIDER_OF_TYPE[provider_type]})
    for where in candidates:
        try:
            return snapshot.find_provider_model(model, None, where.get("provider_id"), where.get("provider_api_url"))
        except LookupError:
            continue
    return None


@functools.lru_cache(maxsize=4096)      # wildcard endpoints: model names are the clients'; bounded
def lookup(provider_type: str, base_url: str, model: str, day: dt.date | None = None) -> CataloguePrice | None:
    """The catalogue's prices for *model* on a provider of *provider_type* at *base_url*, as they
    stand on *day* (default today), or None when the catalogue does not know the model."""
    found = _find(provider_type, base_url, model)
    if found is None:
        return None
    provider, info = found
    when = dt.datetime.combine(day or dt.date.today(), dt.time(12), tzinfo=dt.UTC)
    return from_model_price(provider.id, info.id, info.get_prices(when))
