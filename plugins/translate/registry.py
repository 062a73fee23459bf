"""The pair table: which client format reaches which provider format, through which sides.

The gateway picks a translating exchange when a served model's provider does
not speak the client's format; a route whose provider speaks it gets that
format's identity exchange instead (see :mod:`proxy.exchange`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugins.anthropic import backend as anthropic_backend
from plugins.anthropic import client as anthropic_client
from plugins.gemini import backend as gemini_backend
from plugins.gemini import client as gemini_client
from plugins.gemini.embeddings import EmbeddingsOnGemini
from plugins.openai import chat_sides, compaction, completions_client, responses_client
from plugins.translate.counting import AnthropicCountOnGemini, CountEstimate, GeminiCountOnAnthropic
from plugins.translate.pair import Backend, Client, PairExchange
from proxy import hookimpl
from proxy.exchange import Exchange

if TYPE_CHECKING:
    from proxy.apis import ApiRegistry
    from proxy.exchange import ExchangeRegistry

CLIENTS: dict[str, Client] = {
    "openai.chat": chat_sides.CLIENT,
    "openai.responses": responses_client.CLIENT,
    "openai.responses.compact": compaction.CLIENT,
    "openai.completions": completions_client.CLIENT,
    "anthropic.messages": anthropic_client.CLIENT,
    "gemini.generate": gemini_client.CLIENT,
}
BACKENDS: dict[str, Backend] = {
    "openai.chat": chat_sides.BACKEND,
    "anthropic.messages": anthropic_backend.BACKEND,
    "gemini.generate": gemini_backend.BACKEND,
}

#: (client format, provider format) joined through the chat pivot
PIVOT_PAIRS: tuple[tuple[str, str], ...] = (
    ("openai.chat", "anthropic.messages"),
    ("openai.chat", "gemini.generate"),
    ("anthropic.messages", "openai.chat"),
    ("anthropic.messages", "gemini.generate"),
    ("openai.responses", "openai.chat"),
    ("openai.responses", "anthropic.messages"),
    ("openai.responses", "gemini.generate"),
    ("openai.responses.compact", "openai.chat"),
    ("openai.responses.compact", "anthropic.messages"),
    ("openai.responses.compact", "gemini.generate"),
    ("gemini.generate", "openai.chat"),
    ("gemini.generate", "anthropic.messages"),
    ("openai.completions", "anthropic.messages"),
    ("openai.completions", "gemini.generate"),
)


def pivot_pair(apis: ApiRegistry, client_api: str, provider_api: str) -> PairExchange:
    return PairExchange(apis.get(client_api), apis.get(provider_api), CLIENTS[client_api], BACKENDS[provider_api])


def exchanges(apis: ApiRegistry) -> list[tuple[Exchange, str]]:
    """Every translating exchange, with the provider format it is registered under."""
    out: list[tuple[Exchange, str]] = [(pivot_pair(apis, c, p), p) for c, p in PIVOT_PAIRS]
    out += [
        (EmbeddingsOnGemini(apis.get("openai.embeddings"), apis.get("gemini.batch_embed")), "gemini.batch_embed"),
        (AnthropicCountOnGemini(apis.get("anthropic.count_tokens"), apis.get("gemini.count_tokens")),
         "gemini.count_tokens"),
        (GeminiCountOnAnthropic(apis.get("gemini.count_tokens"), apis.get("anthropic.count_tokens")),
         "anthropic.count_tokens"),
        # no counting API on the provider: answered locally, marked as an estimate
        (CountEstimate(apis.get("anthropic.count_tokens")), "local"),
        (CountEstimate(apis.get("gemini.count_tokens")), "local"),
    ]
    return out


@hookimpl
def relaygate_register_exchanges(registry: ExchangeRegistry, apis: ApiRegistry) -> None:
    for exchange, provider_api in exchanges(apis):
        registry.add(exchange, provider_api)

