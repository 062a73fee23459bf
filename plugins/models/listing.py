"""``GET .../models`` lists ids a client can call, never an ``openai/*`` pattern.

Exact endpoints are listed by name. A wildcard endpoint (``openai/*``: every
zero-config provider) is listed as its prefix plus each model its provider
serves (``openai/gpt-4o-mini``), read from the provider's own model list and
kept ``model_list.ttl_seconds``. When the provider cannot be asked (no list API,
an error, a timeout), the last list it gave is used, else the explicit
``model_list.models`` (``RELAYGATE_MODELS`` in zero-config) entries under that
endpoint. Only endpoints the caller's key may call are listed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import Field

from plugins.models.provider_lists import provider_model_ids
from proxy import hookimpl
from proxy.config import ConfigModel
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.config import EndpointConfig
    from proxy.context import Principal
    from proxy.gateway import Gateway
    from proxy.providers import Provider
    from proxy.sections import Spec

log = logging.getLogger("relaygate.models")


class ModelListConfig(ConfigModel):
    #: callable ids to list when a wildcard endpoint's provider cannot be asked ("openai/gpt-4o-mini", ...)
    models: list[str] = []
    ttl_seconds: float = Field(300, gt=0, description="how long a provider's model list is kept")
    fetch_timeout_seconds: float = Field(10, gt=0)


@dataclass
class ProviderList:
    ids: list[str] = field(default_factory=list)
    fetched_at: float = 0.0                 # monotonic; 0: never fetched
    ok: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


#: each provider's last model list, by (provider name, base URL): survives reloads that keep both
PROVIDER_LISTS: StashKey[dict[tuple[str, str], ProviderList]] = StashKey("models.provider_lists")


async def provider_ids(gateway: Gateway, provider: Provider) -> list[str] | None:
    """*provider*'s model ids, fresh within the TTL; the last good list when asking fails."""
    cfg = gateway.settings.section(ModelListConfig)
    lists = gateway.stash.setdefault(PROVIDER_LISTS, {})
    entry = lists.setdefault((provider.name, provider.base_url), ProviderList())
    async with entry.lock:                  # one fetch per provider, however many clients list at once
        if entry.fetched_at and time.monotonic() - entry.fetched_at < cfg.ttl_seconds:
            return entry.ids if entry.ok else None
        assert gateway.session is not None
        found = await provider_model_ids(gateway.session, provider, cfg.fetch_timeout_seconds)
        entry.fetched_at = time.monotonic()
        if found is not None:
            entry.ids, entry.ok = sorted(set(found)), True
        elif entry.ok:
            log.warning("provider %r: model list unavailable, listing the one from before", provider.name)
        else:
            log.warning("provider %r: no model list; listing model_list.models (RELAYGATE_MODELS)", provider.name)
    return entry.ids if entry.ok else None


def captured_part(pattern: str, model_id: str) -> str | None:
    """The part of *model_id* a served model's ``model`` pattern (``*``, ``llama-*``) captures."""
    head, star, tail = pattern.partition("*")
    if not star or not model_id.startswith(head) or not model_id.endswith(tail) or len(model_id) <= len(head + tail):
        return None
    return model_id[len(head):len(model_id) - len(tail)]


async def wildcard_ids(gateway: Gateway, prefix: str, endpoint: EndpointConfig) -> list[str]:
    served = next((sm for sm in endpoint.served_models if "*" in sm.model), endpoint.served_models[0])
    provider = gateway.runtime.providers[served.provider]
    ids = await provider_ids(gateway, provider)
    if ids is None:
        explicit = gateway.settings.section(ModelListConfig).models
        return [m for m in explicit if m.startswith(prefix) and len(m) > len(prefix)]
    return [prefix + c for m in ids if (c := captured_part(served.model, m)) is not None]


async def callable_models(gateway: Gateway, principal: Principal) -> list[str]:
    """Every id *principal* may call, endpoints first, then each wildcard endpoint's models."""
    rt = gateway.runtime
    names = [n for n in rt.endpoint_names() if principal.may_call(n)]
    wildcards = [(p, ep) for p, ep in sorted(rt.wildcards, key=lambda pw: pw[0]) if principal.may_call(ep.name)]
    for found in await asyncio.gather(*(wildcard_ids(gateway, p, ep) for p, ep in wildcards)):
        names += found
    return names


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"model_list": ModelListConfig}
