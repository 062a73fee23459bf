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

The catalogue is asked through a helper process (:mod:`plugins.metering.price_helper`), once per
(provider, model) and day; a request then finds its route's prices with one dict lookup
(:func:`known_route_prices`). A request for a model not seen yet asks the helper when it is
admitted, so the answer is usually there when its usage is recorded; if not, recording waits for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plugins.metering.price_helper import Key, PriceBook
from proxy import hookimpl

if TYPE_CHECKING:
    from plugins.metering.rates import CataloguePrice
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
    label: str = ""                             # the catalogue's version and price date

    @property
    def known(self) -> bool:
        return self.kind != "unknown"

    def describe(self) -> str:
        if self.catalogue is not None:
            return f"catalogue {self.label}: {self.catalogue.provider} model {self.catalogue.model}"
        return "config (the served model's prices)" if self.kind == "config" else "unknown"

    def rates_for(self, input_tokens: int = 0) -> dict[str, float]:
        if self.config_prices is not None:
            return self.config_prices
        return self.catalogue.rates_for(input_tokens) if self.catalogue is not None else {}

    def version(self) -> str:
        """What a bill cites: the catalogue's package version and price date, or the config."""
        return self._version

    @functools.cached_property
    def _version(self) -> str:                  # once per source, not per request
        if self.catalogue is not None:
            return f"{self.label} {self.catalogue.provider}/{self.catalogue.model}"
        return "config" if self.kind == "config" else ""

    def cost(self, u: Usage) -> float | None:
        if not (u.input_tokens or u.output_tokens or u.cache_creation_tokens):
            return 0.0
        if not self.known:
            return None
        return cost_usd(self.rates_for(u.input_tokens + u.cache_creation_tokens), u)


UNKNOWN = PriceSource("unknown")
#: the catalogue's answers, asked of a helper process once each
BOOK = PriceBook()


def _from_catalogue(found: CataloguePrice | None) -> PriceSource:
    return PriceSource("catalogue", catalogue=found, label=BOOK.label) if found is not None else UNKNOWN


def price_source(provider_type: str, base_url: str, model: str, config_prices: dict[str, float],
                 day: dt.date | None = None) -> PriceSource:
    """The prices one served model is billed at: the config's when given, else the catalogue's.

    Blocks while the helper answers a first question: for commands and threads (the crash
    journal's replay); the request path uses :func:`known_route_prices` / :func:`route_prices`."""
    if config_prices:
        return PriceSource("config", config_prices=config_prices)
    return _from_catalogue(BOOK.lookup_blocking((provider_type, base_url, model, day or dt.date.today())))


# -- per route and day: what a request looks up ---------------------------------------------

#: id(route) -> (route, its prices today); the route is kept so its id cannot be reused meanwhile
_ROUTES: dict[int, tuple[Route, PriceSource]] = {}
_MAX_ROUTES = 8192                      # wildcard routes beyond the gateway's own route cache
_day: dt.date = dt.date.min
_day_ends = 0.0                         # time.time() of the next local midnight


def _new_day() -> None:
    """Prices may change on a date: from local midnight on, every route is priced anew."""
    global _day, _day_ends
    _day = dt.date.today()
    _day_ends = dt.datetime.combine(_day + dt.timedelta(days=1), dt.time()).timestamp()
    _ROUTES.clear()


def _key(route: Route) -> Key:
    provider = route.provider
    return provider.config.type, provider.base_url, route.upstream_model, _day


def known_route_prices(route: Route) -> PriceSource | None:
    """*route*'s prices today, or None while the catalogue helper has not answered for its model."""
    if time.time() >= _day_ends:
        _new_day()
    hit = _ROUTES.get(id(route))
    if hit is not None and hit[0] is route:
        return hit[1]
    if route.served.prices:
        source = PriceSource("config", config_prices=route.served.prices)
    else:
        key = _key(route)
        if key not in BOOK.known:
            return None
        source = _from_catalogue(BOOK.known[key])
    if len(_ROUTES) >= _MAX_ROUTES:
        _ROUTES.clear()
    _ROUTES[id(route)] = (route, source)
    return source


async def route_prices(route: Route) -> PriceSource:
    """*route*'s prices today, asking the catalogue helper (off the event loop) on first sight."""
    source = known_route_prices(route)
    if source is None:
        found = await _patiently(asyncio.ensure_future(BOOK.lookup(_key(route))))
        # known now, unless the day turned or the book dropped it meanwhile: then bill what was asked
        source = known_route_prices(route) or _from_catalogue(found)
    return source


async def _patiently(fut: asyncio.Future[CataloguePrice | None]) -> CataloguePrice | None:
    """Await *fut* even through a cancellation (shutdown's cut of an attempt whose usage is being
    recorded): the ledger row must still be written, at its price. The cancellation is passed on."""
    cancelled = False
    while True:
        try:
            await asyncio.shield(fut)
            break
        except asyncio.CancelledError:
            if fut.done():
                break
            cancelled = True
    if cancelled:
        task = asyncio.current_task()
        if task is not None:
            task.cancel()               # for the caller's next await
    return fut.result()


@hookimpl
def relaygate_config_loaded(gateway: Gateway) -> None:
    """Routes are rebuilt: forget the old ones; ask now for the served models named in advance."""
    _ROUTES.clear()
    today = dt.date.today()
    for endpoint in gateway.settings.endpoints.values():
        for served in endpoint.served_models:
            provider = gateway.runtime.providers.get(served.provider)
            if "*" not in served.model and not served.prices and provider is not None:
                BOOK.prefetch((provider.config.type, provider.base_url, served.model, today))


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    await BOOK.close()


@hookimpl
def relaygate_admit_request(ctx: RequestContext, route: Route) -> None:
    # A model seen for the first time: ask the helper now, while the provider answers.
    if known_route_prices(route) is None:
        BOOK.prefetch(_key(route))


@hookimpl(tryfirst=True)
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> Awaitable[None] | None:
    route = ctx.route
    if route is None:
        return None
    source = known_route_prices(route)
    if source is None:
        return _bill_later(route, record)       # rare: the helper has not answered yet
    _bill(source, record)
    return None


#: records waiting for the helper's answer: their ledger rows are written once it comes
_waiting: set[asyncio.Future[None]] = set()


async def _bill_later(route: Route, record: UsageRecord) -> None:
    done = asyncio.get_running_loop().create_future()
    _waiting.add(done)
    try:
        _bill(await route_prices(route), record)
    finally:                    # the usage sinks after this one (the ledger) run in this same step
        _waiting.discard(done)
        done.set_result(None)


async def billed(timeout: float = 30.0) -> None:
    """Wait until no record is waiting for its prices (before the ledger's last flush, and in tests
    that read the ledger as soon as a stream's last chunk has arrived)."""
    try:
        async with asyncio.timeout(timeout):
            while _waiting:
                await asyncio.gather(*_waiting)
    except TimeoutError:
        pass


def _bill(source: PriceSource, record: UsageRecord) -> None:
    cost = source.cost(record.usage)
    record.price_source, record.price_version = source.kind, source.version()
    if record.cache_hit:          # the response cache answered: nothing was spent, this much was saved
        record.cost_usd, record.saved_cost_usd = 0.0, cost
    else:
        record.cost_usd = cost
