"""Guardrails: PII and keyword rules on the request (input) and the answer (output).

Rules come from ``guardrails:`` at the top level (every endpoint) and per
endpoint (added; an endpoint rule with the same name replaces the global
one). Each rule either blocks (400 in the surface's error shape, naming the
rule, the kind of data and where; never quoting it) or masks in place
(``[EMAIL]``, ``[CARD]``, ...).

Input: every text a provider will read (plugins/guardrails/fields.py: messages,
content items, text documents, tool results, system prompts, Responses input,
Gemini parts, ...), checked in ``relaygate_validate_request`` before any
provider is called. Output: the text of a non-streaming answer, in the
client's format, through ``relaygate_transform_response``. Text is matched as a
model reads it (NFKC, zero-width and other format characters removed); masking
replaces only the match. Streamed answers are not filtered (a limitation: the
bytes are relayed as they come).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plugins.guardrails.config import GuardrailRule
from plugins.guardrails.detectors import DESCRIPTIONS, Matcher, expand, keyword_detector
from plugins.guardrails.fields import INPUT_KEYS, OUTPUT_KEYS, text_fields
from proxy import hookimpl
from proxy.hooks import active_when
from proxy.errors import RequestRejected
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.config import EndpointConfig, Settings
    from proxy.context import RequestContext
    from proxy.gateway import Gateway
    from proxy.sections import Spec

@dataclass(frozen=True)
class CompiledRule:
    name: str
    block: bool
    on_input: bool
    on_output: bool
    matcher: Matcher


#: compiled rules per (id(settings), endpoint name): built once per configuration, not per request
RULES: StashKey[dict[tuple[int, str], list[CompiledRule]]] = StashKey("guardrails.rules")
#: the same rules split into (input rules, output rules)
SPLIT_RULES: StashKey[dict[tuple[int, str], tuple[list[CompiledRule], ...]]] = StashKey("guardrails.split_rules")
#: set on a request whose input a masking rule changed
MASKED_INPUT: StashKey[bool] = StashKey("guardrails.masked_input")


def compile_rule(rule: GuardrailRule) -> CompiledRule | None:
    if rule.type == "pii":
        detectors = expand(rule.detect)
    else:
        kw = keyword_detector(rule.keywords)
        detectors = [kw] if kw is not None else []
    if not detectors:
        return None
    return CompiledRule(rule.name, rule.action == "block", "input" in rule.apply_to, "output" in rule.apply_to,
                        Matcher(detectors, rule.mask))


def rules_for(gateway: Gateway, settings: Settings, endpoint: EndpointConfig) -> list[CompiledRule]:
    cache = gateway.stash.setdefault(RULES, {})
    key = (id(settings), endpoint.name)
    found = cache.get(key)
    if found is None:
        merged = {r.name: r for r in settings.guardrails}  # type: ignore[attr-defined]
        merged.update({r.name: r for r in endpoint.guardrails})  # type: ignore[attr-defined]
        found = cache[key] = [c for r in merged.values() if (c := compile_rule(r)) is not None]
    return found


def _split_rules(gateway: Gateway, settings: Settings, endpoint: EndpointConfig) -> tuple[list[CompiledRule], ...]:
    """The endpoint's (input rules, output rules), split once per configuration, not per request."""
    cache = gateway.stash.setdefault(SPLIT_RULES, {})
    key = (id(settings), endpoint.name)
    found = cache.get(key)
    if found is None:
        rules = rules_for(gateway, settings, endpoint)
        found = cache[key] = ([r for r in rules if r.on_input], [r for r in rules if r.on_output])
    return found


def apply(rules: list[CompiledRule], body: dict[str, Any], top_keys: frozenset[str], what: str) -> bool:
    """Block (raise) or mask in place; True when something was masked."""
    masked = False
    for field in list(text_fields(body, top_keys)):
        text = field.get()
        if text is None:
            continue
        for rule in rules:
            if rule.block:
                hit = rule.matcher.find(text)
                if hit is not None:
                    raise RequestRejected(
                        f"guardrail {rule.name!r} blocked the {what}: {DESCRIPTIONS.get(hit[2], hit[2])} "
                        f"found in {field.path}", param=field.path if what == "request" else None)
            else:
                new = rule.matcher.mask(text)
                if new != text:
                    text = new
                    field.set(new)
                    masked = True
    return masked


def _settings(ctx: RequestContext) -> Settings:
    return ctx.gateway.settings


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"guardrails": (list[GuardrailRule], [])}       # for every endpoint


@hookimpl
def relaygate_endpoint_fields() -> dict[str, Spec]:
    return {"guardrails": (list[GuardrailRule], [])}       # added to the top-level ones (same name: this wins)


@hookimpl
def relaygate_config_loaded(gateway: Gateway) -> None:
    gateway.stash[RULES] = {}            # recompile for the new configuration
    gateway.stash[SPLIT_RULES] = {}


def _has_input_rules(gateway: Gateway, endpoint: EndpointConfig | None) -> bool:
    return endpoint is not None and bool(_split_rules(gateway, gateway.settings, endpoint)[0])


def _has_output_rules(gateway: Gateway, endpoint: EndpointConfig | None) -> bool:
    return endpoint is not None and bool(_split_rules(gateway, gateway.settings, endpoint)[1])


@hookimpl
@active_when(_has_input_rules)
def relaygate_validate_request(ctx: RequestContext) -> None:
    if ctx.endpoint is None or not isinstance(ctx.body, dict):
        return
    rules = _split_rules(ctx.gateway, _settings(ctx), ctx.endpoint)[0]
    if rules and apply(rules, ctx.body, INPUT_KEYS, "request"):
        ctx.stash[MASKED_INPUT] = True


@hookimpl
@active_when(_has_output_rules)
def relaygate_transform_response(ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any] | None:
    if ctx.endpoint is None or not isinstance(body, dict):
        return None
    rules = _split_rules(ctx.gateway, _settings(ctx), ctx.endpoint)[1]
    if rules and apply(rules, body, OUTPUT_KEYS, "response"):
        return body
    return None
