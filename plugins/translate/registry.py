"""Registers every translator pair, and counts the parameters translations dropped.

A pair is (client wire API, provider wire API) -> module; the gateway picks
one when a served model's provider does not speak the client's API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from proxy import hookimpl
from proxy.translation import DROPPED_KEY

if TYPE_CHECKING:
    from proxy.apis import TranslatorRegistry
    from proxy.context import RequestContext

#: (client API, provider API, module under plugins.translate)
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("openai.chat", "anthropic.messages", "openai_anthropic"),
    ("openai.chat", "gemini.generate", "openai_gemini"),
    ("anthropic.messages", "openai.chat", "anthropic_openai"),
    ("anthropic.messages", "gemini.generate", "anthropic_gemini"),
    ("openai.responses", "openai.chat", "responses_openai"),
    ("openai.responses", "anthropic.messages", "responses_anthropic"),
    ("openai.responses", "gemini.generate", "responses_gemini"),
    ("gemini.generate", "openai.chat", "gemini_openai"),
    ("gemini.generate", "anthropic.messages", "gemini_anthropic"),
    ("openai.completions", "anthropic.messages", "completions_anthropic"),
    ("openai.completions", "gemini.generate", "completions_gemini"),
    ("openai.embeddings", "gemini.batch_embed", "embeddings_gemini"),
    ("anthropic.count_tokens", "gemini.count_tokens", "count_anthropic_gemini"),
    ("gemini.count_tokens", "anthropic.count_tokens", "count_gemini_anthropic"),
    # no counting API on the provider: answered locally, marked as an estimate
    ("anthropic.count_tokens", "local", "count_estimate"),
    ("gemini.count_tokens", "local", "count_estimate"),
)


def load_pairs() -> list[tuple[str, str, object]]:
    out = []
    for client, provider, name in PAIRS:
        try:
            module = importlib.import_module(f"plugins.translate.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"plugins.translate.{name}":
                raise
            continue                           # a pair not built yet
        out.append((client, provider, module))
    return out


@hookimpl
def relaygate_register_translators(registry: TranslatorRegistry) -> None:
    for client, provider, module in load_pairs():
        registry.add(client, provider, module)


@hookimpl
def relaygate_request_finished(ctx: RequestContext) -> None:
    dropped = ctx.extra.get(DROPPED_KEY)
    rm = ctx.gateway.state.get("plugins.metrics.prometheus")
    if not dropped or rm is None:
        return
    endpoint = ctx.endpoint.name if ctx.endpoint else ctx.endpoint_name
    for param in dropped:
        rm.inc(rm.m.dropped_params, (endpoint, param))
