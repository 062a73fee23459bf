"""``POST /responses/compact`` (``openai.responses.compact``): validation, usage, errors, stored chains.

The request (Open Responses ``CompactResponseMethodPublicBody``) needs ``model``; ``input``
may be left out when ``previous_response_id`` names the conversation, one of the two must
be there. Errors are OpenAI's shape. OpenAI and Azure OpenAI models compact natively (the
route passes through); every other model gets a summarisation request through the normal
relay (plugins/openai/compaction.py). On those routes ``previous_response_id`` is read from
the gateway's own Responses store, for the key that created the response.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from plugins.openai.compaction import as_items
from plugins.openai.errors import openai_error_body, openai_quota_exhausted
from plugins.openai.responses_api import check_input
from plugins.openai.responses_meter import usage_from_responses
from plugins.openai.responses_schema import COMPACT
from plugins.openai.responses_store import RESPONSE_STORE, ResponseStore
from proxy import hookimpl
from proxy.hooks import for_apis
from proxy.apis import Api, ApiRegistry
from proxy.errors import GatewayError, RequestRejected
from proxy.usage import Usage

if TYPE_CHECKING:
    from proxy.context import RequestContext, Route

API_ID = "openai.responses.compact"
PROMPT_CACHE_KEY_MAX = 64


class OpenAIResponsesCompact(Api):
    id = API_ID
    request_schema = COMPACT

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        if body.get("input") is None and not body.get("previous_response_id"):
            raise RequestRejected("'input' is required unless 'previous_response_id' names the conversation "
                                  "to compact", param="input")
        if body.get("input") is not None:
            check_input(body["input"])
        for name in ("previous_response_id", "instructions", "prompt_cache_key"):
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                raise RequestRejected(f"'{name}' must be a string, got {type(value).__name__}", param=name)
        if len(body.get("prompt_cache_key") or "") > PROMPT_CACHE_KEY_MAX:
            raise RequestRejected(f"'prompt_cache_key' is longer than {PROMPT_CACHE_KEY_MAX} characters",
                                  param="prompt_cache_key")

    def is_stream(self, body: dict[str, Any]) -> bool:
        return False                              # a compaction is one JSON answer

    def usage_from_body(self, body: Any) -> Usage:
        return usage_from_responses(body.get("usage") if isinstance(body, dict) else None)

    def error_body(self, err: GatewayError, request_id: str) -> dict[str, Any]:
        return openai_error_body(err, request_id)

    def quota_exhausted(self, body: bytes) -> bool:
        return openai_quota_exhausted(body)


@hookimpl
def relaygate_register_apis(registry: ApiRegistry) -> None:
    registry.add(OpenAIResponsesCompact())


@hookimpl
@for_apis(API_ID)
def relaygate_admit_request(ctx: RequestContext, route: Route) -> Awaitable[None] | None:
    # Plain def: only a translated compaction of a stored chain has anything to do.
    if ctx.api.id != API_ID or route.passthrough or not (ctx.body or {}).get("previous_response_id"):
        return None
    store = ctx.gateway.stash.get(RESPONSE_STORE)
    return None if store is None else _prepend_stored(ctx, store)


async def _prepend_stored(ctx: RequestContext, store: ResponseStore) -> None:
    assert ctx.body is not None
    prev = str(ctx.body["previous_response_id"])
    earlier = await store.get(prev, ctx.principal.key_id if ctx.principal else "")
    if earlier is None:
        raise RequestRejected(f"Previous response with id '{prev}' not found.", param="previous_response_id")
    body = {k: v for k, v in ctx.body.items() if k != "previous_response_id"}
    body["input"] = earlier + as_items(body.get("input"))
    ctx.body = body
