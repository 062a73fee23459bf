"""The gateway's exchanges outside a running gateway: for golden, property and guard tests."""

from __future__ import annotations

from functools import cache

from proxy.apis import ApiRegistry
from proxy.exchange import Exchange, ExchangeRegistry
from plugins.translate import field_rules

#: golden folder names (``<client>_<backend>``) -> wire format ids
FORMATS = {"openai": "openai.chat", "anthropic": "anthropic.messages", "gemini": "gemini.generate",
           "responses": "openai.responses", "completions": "openai.completions",
           "embeddings": "openai.embeddings"}


@cache
def registries() -> tuple[ApiRegistry, ExchangeRegistry]:
    return field_rules.registries()


def exchange(client_api: str, provider_api: str) -> Exchange:
    """The exchange a route from *client_api* to *provider_api* gets (the identity when equal)."""
    apis, exchanges = registries()
    if client_api == provider_api:
        return Exchange(apis.get(client_api))
    found = exchanges.get(client_api, provider_api)
    assert found is not None, f"no exchange {client_api} -> {provider_api}"
    return found


def pair_exchange(folder: str) -> Exchange:
    """The exchange of a golden folder such as ``responses_anthropic``."""
    client, backend = folder.split("_", 1)
    target = "gemini.batch_embed" if client == "embeddings" else FORMATS[backend]
    return exchange(FORMATS[client], target)
