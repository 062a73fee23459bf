"""``relaygate prices MODEL [--provider P]``: what a model will be charged, per million tokens, and why.

MODEL is looked up the way a request is routed: a gateway endpoint (``chat``) or a
wildcard match (``openai/gpt-4o-mini`` in zero-config) shows each of its served
models, priced from the config's ``prices`` or the catalogue. ``--provider``
names a configured provider (or a provider type: ``openai``, ``anthropic``,
``gemini``, ...) and MODEL that provider's own model id. Exit status 1 when no
price is known: such requests are recorded with cost unknown.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from plugins.metering.pricing import PRICE_KINDS, PriceSource, price_source
from plugins.metering.rates import PROVIDER_OF_TYPE
from proxy import hookimpl
from proxy.config import ConfigError, Settings
from proxy.zeroconf import settings_from_file_or_env

LABELS = {"input": "input", "cached_input": "cached input (cache read)", "cache_creation": "cache write",
          "cache_creation_1h": "cache write (1 hour)", "output": "output", "reasoning": "reasoning"}
BILLED_AS = {"cached_input": "input", "cache_creation": "input", "reasoning": "output",
             "cache_creation_1h": "cache_creation"}


def _rate(rates: dict[str, float], kind: str) -> float:
    """*kind*'s rate, else the rate of the kind it is billed as (a 1-hour write: a write, then input)."""
    while kind not in rates and kind in BILLED_AS:
        kind = BILLED_AS[kind]
    return rates.get(kind, 0.0)


@dataclass
class Priced:
    """One served model (or provider model) and where its prices come from."""

    title: str
    source: PriceSource


def _wildcard_match(settings: Settings, name: str) -> tuple[str, Any, str] | None:
    """(endpoint name, endpoint, captured part) of the longest wildcard endpoint *name* matches."""
    found = [(ep_name, ep) for ep_name, ep in settings.endpoints.items()
             if ep_name.endswith("*") and name.startswith(ep_name[:-1]) and len(name) > len(ep_name) - 1]
    if not found:
        return None
    ep_name, ep = max(found, key=lambda pair: len(pair[0]))
    return ep_name, ep, name[len(ep_name) - 1:]


def for_endpoint(settings: Settings, name: str) -> list[Priced] | None:
    """Each served model of the endpoint *name* routes to, or None when no endpoint matches."""
    if name in settings.endpoints:
        endpoint, captured = settings.endpoints[name], None
    elif (match := _wildcard_match(settings, name)) is not None:
        _, endpoint, captured = match
    else:
        return None
    out = []
    for sm in endpoint.served_models:
        provider = settings.providers[sm.provider]
        model = sm.model.replace("*", captured) if captured is not None else sm.model
        source = price_source(provider.type, provider.base_url or "", model, sm.prices)
        out.append(Priced(f"{name}: served model {sm.name!r} (provider {sm.provider!r}, type {provider.type}, "
                          f"model {model})", source))
    return out


def for_provider(settings: Settings, model: str, provider: str) -> Priced:
    """*model* on a configured provider named *provider*, or on a provider of that type."""
    cfg = settings.providers.get(provider)
    ptype, base_url = (cfg.type, cfg.base_url or "") if cfg is not None else (provider, "")
    if ptype == "google":                    # the catalogue's own name for the Gemini API
        ptype = "gemini"
    configured = [sm.prices for ep in settings.endpoints.values() for sm in ep.served_models
                  if sm.provider == provider and sm.model == model and sm.prices]
    return Priced(f"{model} on provider {provider!r} (type {ptype})",
                  price_source(ptype, base_url, model, configured[0] if configured else {}))


def render(item: Priced) -> str:
    lines = [item.title, f"  source: {item.source.describe()}"]
    if not item.source.known:
        lines.append("  no price known: requests are recorded with cost unknown (NULL), counted in "
                     "relaygate_unpriced_requests_total; set prices: on the served model to charge them")
        return "\n".join(lines) + "\n"
    rates = item.source.rates_for()
    priced = item.source.catalogue.priced if item.source.catalogue is not None else frozenset(rates)
    lines.append("  USD per million tokens:")
    for kind in PRICE_KINDS:
        own = kind in priced
        value = _rate(rates, kind)
        note = "" if own or kind not in BILLED_AS else f"  (billed as {LABELS[BILLED_AS[kind]]})"
        lines.append(f"    {LABELS[kind]:<26} {value:>10.4f}{note}")
    for start, tier in item.source.catalogue.tiers if item.source.catalogue is not None else ():
        parts = ", ".join(f"{LABELS[k]} {tier[k]:.4f}" for k in PRICE_KINDS if k in priced)
        lines.append(f"  above {start:,} input tokens every token of the call: {parts}")
    return "\n".join(lines) + "\n"


def cmd_prices(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_file_or_env(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.provider:
        items = [for_provider(settings, args.model, args.provider)]
    else:
        items = for_endpoint(settings, args.model) or []
        if not items:          # not an endpoint: the catalogue's model of that name, by type if it says one
            ptype, _, model = args.model.partition("/") if "/" in args.model else ("", "", args.model)
            items = [for_provider(settings, model, ptype or _guess_type(model))]
    sys.stdout.write("".join(render(i) for i in items))
    return 0 if all(i.source.known for i in items) else 1


def _guess_type(model: str) -> str:
    """A provider type for a bare model id, from its name (claude-*, gemini-*, else OpenAI)."""
    low = model.lower()
    return "anthropic" if low.startswith("claude") else "gemini" if low.startswith("gemini") else "openai"


@hookimpl
def relaygate_add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``relaygate prices``."""
    p = commands.add_parser("prices", help="what a model is charged per million tokens, and where the price "
                                           "comes from (config or catalogue)")
    p.add_argument("model", help="an endpoint (chat, openai/gpt-4o-mini) or, with --provider, a provider's model id")
    p.add_argument("--provider", help="a configured provider name, or a provider type "
                                      f"({', '.join(sorted(PROVIDER_OF_TYPE))}, openai_compatible)")
    p.add_argument("--config", "-c", help="YAML configuration file (default: $RELAYGATE_CONFIG or zero-config)")
    p.set_defaults(func=cmd_prices)
