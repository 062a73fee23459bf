"""What happens to each request field on each kind of provider, found by running the translators.

For every top-level field of a client format's request shape
(:attr:`proxy.apis.Api.request_schema`) and every provider type, the field's
sample value is translated twice, under the endpoint policies ``reject`` and
``drop``, and compared with the same request without it:

- ``native``: the provider speaks the client's format; the field goes as sent;
- ``mapped``: the provider's request changes with it;
- ``rejected``: 400 naming it (``unsupported_params: reject``), and with
  ``drop``: ``dropped`` (left out, named in ``x-relaygate-dropped``);
- ``ignored``: neither; the translation has no use for it (each is listed in
  :data:`IGNORED` with the reason, and a test fails on any other).

``python -m plugins.translate.field_rules`` prints the table README.md carries
(tests/plugins/translate/test_field_rules.py fails when README's copy is stale).
"""

from __future__ import annotations

import copy
from typing import Any

from proxy.apis import ApiRegistry
from proxy.config import ProviderConfig
from proxy.errors import RequestRejected
from proxy.exchange import Exchange, ExchangeRegistry, TranslateOptions
from proxy.providers import Provider, ProviderRegistry

PROVIDER_TYPES = ("openai", "openai_compatible", "anthropic", "gemini")
_TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
_FN = {"name": "f", "parameters": {"type": "object", "properties": {}}}
Sample = tuple[dict[str, Any], dict[str, Any]]        # (the field(s), what it needs beside it)

#: client format -> (the smallest request, {field: sample})
FORMATS: dict[str, tuple[dict[str, Any], dict[str, Sample]]] = {
    "openai.chat": ({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, {
        "temperature": ({"temperature": 0.5}, {}), "top_p": ({"top_p": 0.5}, {}), "top_k": ({"top_k": 5}, {}),
        "presence_penalty": ({"presence_penalty": 0.5}, {}), "frequency_penalty": ({"frequency_penalty": 0.5}, {}),
        "max_tokens": ({"max_tokens": 7}, {}), "max_completion_tokens": ({"max_completion_tokens": 7}, {}),
        "n": ({"n": 2}, {}), "stop": ({"stop": ["x"]}, {}), "user": ({"user": "u"}, {}), "seed": ({"seed": 3}, {}),
        "logit_bias": ({"logit_bias": {"1": 1}}, {}), "logprobs": ({"logprobs": True}, {}),
        "top_logprobs": ({"top_logprobs": 2}, {"logprobs": True}),
        "tools": ({"tools": [_TOOL]}, {}), "tool_choice": ({"tool_choice": "required"}, {"tools": [_TOOL]}),
        "parallel_tool_calls": ({"parallel_tool_calls": False}, {"tools": [_TOOL]}),
        "functions": ({"functions": [_FN]}, {}), "function_call": ({"function_call": {"name": "f"}},
                                                                   {"functions": [_FN]}),
        "response_format": ({"response_format": {"type": "json_object"}}, {}),
        "reasoning_effort": ({"reasoning_effort": "low"}, {}), "verbosity": ({"verbosity": "low"}, {}),
        "metadata": ({"metadata": {"k": "v"}}, {}),
        "extra_body": ({"extra_body": {"google": {"thinking_config": {"thinking_budget": 512}}}}, {}),
    }),
    "openai.responses": ({"model": "m", "input": "hi"}, {
        "instructions": ({"instructions": "be brief"}, {}), "temperature": ({"temperature": 0.5}, {}),
        "top_p": ({"top_p": 0.5}, {}), "top_k": ({"top_k": 5}, {}),
        "presence_penalty": ({"presence_penalty": 0.5}, {}), "frequency_penalty": ({"frequency_penalty": 0.5}, {}),
        "max_output_tokens": ({"max_output_tokens": 7}, {}), "top_logprobs": ({"top_logprobs": 2}, {}),
        "tools": ({"tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}, {}),
        "tool_choice": ({"tool_choice": "required"},
                        {"tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}),
        "parallel_tool_calls": ({"parallel_tool_calls": False},
                                {"tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}),
        "reasoning": ({"reasoning": {"effort": "low"}}, {}),
        "text": ({"text": {"format": {"type": "json_object"}}}, {}),
        "metadata": ({"metadata": {"k": "v"}}, {}), "include": ({"include": ["reasoning.encrypted_content"]}, {}),
        "user": ({"user": "u"}, {}), "prompt_cache_key": ({"prompt_cache_key": "k"}, {}),
        "store": ({"store": False}, {}), "previous_response_id": ({"previous_response_id": None}, {}),
    }),
    "anthropic.messages": ({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}, {
        "system": ({"system": "be brief"}, {}), "temperature": ({"temperature": 0.5}, {}),
        "top_p": ({"top_p": 0.5}, {}), "top_k": ({"top_k": 5}, {}), "stop_sequences": ({"stop_sequences": ["x"]}, {}),
        "metadata": ({"metadata": {"user_id": "u"}}, {}),
        "tools": ({"tools": [{"name": "f", "input_schema": {"type": "object"}}]}, {}),
        "tool_choice": ({"tool_choice": {"type": "any"}},
                        {"tools": [{"name": "f", "input_schema": {"type": "object"}}]}),
        "thinking": ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, {}),
        "output_config": ({"output_config": {"effort": "low"}}, {}),
        "container": ({"container": "c"}, {}), "mcp_servers": ({"mcp_servers": [{"type": "url", "url": "u"}]}, {}),
    }),
    "gemini.generate": ({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, {
        "systemInstruction": ({"systemInstruction": {"parts": [{"text": "be brief"}]}}, {}),
        "tools": ({"tools": [{"functionDeclarations": [{"name": "f"}]}]}, {}),
        "toolConfig": ({"toolConfig": {"functionCallingConfig": {"mode": "ANY"}}},
                       {"tools": [{"functionDeclarations": [{"name": "f"}]}]}),
        "generationConfig": ({"generationConfig": {"temperature": 0.5, "maxOutputTokens": 7}}, {}),
        "safetySettings": ({"safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH",
                                                "threshold": "BLOCK_NONE"}]}, {}),
        "cachedContent": ({"cachedContent": "cachedContents/1"}, {}),
    }),
}

#: (client format, field) -> why a translation may leave it out without a word
IGNORED: dict[tuple[str, str], str] = {
    ("openai.chat", "metadata"): "stored-completion tags for OpenAI's dashboard; no provider-side meaning",
    ("openai.chat", "user"): "an end-user id for abuse monitoring; the gateway's ledger records the caller",
    ("openai.responses", "metadata"): "kept with the stored response by the gateway, not sent",
    ("openai.responses", "include"): "asks for extra output fields; translated answers carry what they have",
    ("openai.responses", "user"): "an end-user id for abuse monitoring; the gateway's ledger records the caller",
    ("openai.responses", "prompt_cache_key"): "a cache-routing hint; the answer means the same without it",
    ("openai.responses", "store"): "the gateway keeps translated responses itself (storage.responses)",
    ("openai.responses", "previous_response_id"): "resolved by the gateway's store before translation",
    ("anthropic.messages", "metadata"): "an end-user id for abuse monitoring; the gateway's ledger records the caller",
}


def _providers() -> dict[str, Provider]:
    from proxy.plugins import make_plugin_manager
    pm = make_plugin_manager(entry_points=False)
    registry = ProviderRegistry()
    pm.hook.relaygate_register_providers(registry=registry)
    return {kind: registry.create(kind, ProviderConfig(type=kind, base_url="http://127.0.0.1:9", api_key="k"))
            for kind in PROVIDER_TYPES}


def registries() -> tuple[ApiRegistry, ExchangeRegistry]:
    """Every default plugin's wire formats and exchanges, outside a running gateway."""
    from proxy.plugins import make_plugin_manager
    pm = make_plugin_manager(entry_points=False)
    apis, exchanges = ApiRegistry(), ExchangeRegistry()
    pm.hook.relaygate_register_apis(registry=apis)
    pm.hook.relaygate_register_exchanges(registry=exchanges, apis=apis)
    return apis, exchanges


def _exchange(exchanges: ExchangeRegistry, provider: Provider, client_api: str) -> Exchange | None:
    """None: the provider speaks the client's format (the field goes as sent)."""
    if provider.speaks(client_api):
        return None
    for provider_api in sorted(provider.apis):
        found = exchanges.get(client_api, provider_api)
        if found is not None:
            return found
    raise LookupError(f"no route from {client_api} to {provider.kind}")


def _translate(exchange: Exchange, body: dict[str, Any], kind: str, policy: str) -> tuple[Any, TranslateOptions]:
    opts = TranslateOptions(stream=False, policy=policy, target=kind)
    return exchange.request(copy.deepcopy(body), model="m", options=opts), opts


def rule(exchange: Exchange, base: dict[str, Any], field: str, sample: Sample, kind: str) -> str:
    value, needs = sample
    without = {**base, **needs}
    with_field = {**without, **value}
    try:
        _translate(exchange, without, kind, "reject")
    except RequestRejected:
        return "rejected; dropped"                  # what it needs is refused, and it goes with it
    plain, plain_opts = _translate(exchange, without, kind, "drop")
    translated, opts = _translate(exchange, with_field, kind, "drop")
    if [d for d in opts.dropped if d not in plain_opts.dropped]:
        try:
            _translate(exchange, with_field, kind, "reject")
        except RequestRejected:
            return "rejected; dropped"
        return "dropped"
    try:
        _translate(exchange, with_field, kind, "reject")
    except RequestRejected as exc:
        if exc.param and exc.param.split(".")[0] in (field, *value):
            return "rejected"
    return "mapped" if translated != plain else "ignored"


def rules() -> dict[str, dict[str, dict[str, str]]]:
    """client format -> field -> provider type -> rule."""
    _, exchanges = registries()
    providers = _providers()
    out: dict[str, dict[str, dict[str, str]]] = {}
    for client_api, (base, samples) in FORMATS.items():
        table = out[client_api] = {}
        for field, sample in samples.items():
            row = table[field] = {}
            for kind, provider in providers.items():
                exchange = _exchange(exchanges, provider, client_api)
                row[kind] = "native" if exchange is None else rule(exchange, base, field, sample, kind)
    return out


def markdown(found: dict[str, dict[str, dict[str, str]]] | None = None) -> str:
    found = found or rules()
    lines = []
    for client_api, table in found.items():
        lines += [f"**{client_api}**", "", "| field | " + " | ".join(PROVIDER_TYPES) + " |",
                  "|---|" + "---|" * len(PROVIDER_TYPES)]
        lines += [f"| `{field}` | " + " | ".join(row[k] for k in PROVIDER_TYPES) + " |" for field, row in table.items()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
