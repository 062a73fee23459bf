"""Fields of the reference (Databricks Foundation Model API) that OpenAI's API lacks.

``instruction`` (embeddings), ``error_behavior`` and ``use_raw_prompt``
(completions) are validated with the rest of the body. An OpenAI-style
provider only receives them when its config says it understands them
(``options: {reference_params: true}``, e.g. a server that is itself
reference-compatible); otherwise they are stripped before sending.

Stripping must not change meaning silently. Values that only restate the
provider's own behaviour (``use_raw_prompt``: OpenAI-style completions never
apply a prompt template; ``error_behavior: "error"``) are always dropped; a
value the provider cannot honour (``instruction``, ``error_behavior:
"truncate"``) follows the endpoint's ``unsupported_params`` policy: ``reject``
(400 naming the field, the default) or ``drop``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy import hookimpl
from proxy.hooks import active_when, for_apis
from proxy.errors import RequestRejected

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.providers import Provider

#: wire API -> reference-only field -> the value that changes nothing when dropped
#: (``...``: every value changes the meaning)
REFERENCE_ONLY: dict[str, dict[str, Any]] = {
    "openai.embeddings": {"instruction": ...},
    "openai.completions": {"error_behavior": "error", "use_raw_prompt": None},
}


def knows_reference_params(provider: Provider) -> bool:
    return bool(provider.config.options.get("reference_params"))


def strip_reference_params(api: str, body: dict[str, Any], provider: Provider) -> dict[str, Any]:
    """The body without the fields *provider* does not understand (a copy, if any)."""
    fields = REFERENCE_ONLY.get(api)
    if not fields or knows_reference_params(provider) or not any(f in body for f in fields):
        return body
    return {k: v for k, v in body.items() if k not in fields}


def _harmless(value: Any, neutral: Any) -> bool:
    return value is None or neutral is None or (neutral is not ... and value == neutral)


@hookimpl
@for_apis(*REFERENCE_ONLY)
@active_when(lambda gateway, endpoint: endpoint is not None and endpoint.unsupported_params != "drop")
def relaygate_validate_request(ctx: RequestContext) -> None:
    """Refuse a reference-only value that a served model of the endpoint cannot honour."""
    fields = REFERENCE_ONLY.get(ctx.api.id)
    body, endpoint = ctx.body, ctx.endpoint
    if not fields or body is None or endpoint is None or endpoint.unsupported_params == "drop":
        return
    providers = ctx.gateway.runtime.providers
    for name, neutral in fields.items():
        if _harmless(body.get(name), neutral):
            continue
        for sm in endpoint.served_models:
            provider = providers.get(sm.provider)
            if provider is not None and provider.speaks(ctx.api.id) and not knows_reference_params(provider):
                raise RequestRejected(
                    f"'{name}' is not supported by served model {sm.name!r} of endpoint {endpoint.name!r} "
                    f"(its endpoint policy is to reject unsupported parameters)", param=name)
