"""Response ids belong to the gateway key that created them.

All gateway keys reach OpenAI with the gateway's one provider credential, so OpenAI alone
cannot tell them apart: without this, any key could continue (and so read) another key's
stored response by sending its id as ``previous_response_id``. The gateway therefore
records the owner of every response id it relays on the Responses surface:

* passthrough (OpenAI-native routes): the ``id`` of the provider's answer, or of the first
  stream event that carries one, recorded before the client has read it;
* translated routes: the ``resp_`` id the gateway gave the conversation it stores
  (plugins/openai/responses_store.py, which also scopes its own lookups by key).

A request naming a ``previous_response_id`` that another key owns gets 404 in OpenAI's
shape, exactly as for an id that never existed, before any provider is called. An id this
gateway never issued (created elsewhere, or older than ``storage.responses.retention_days``)
is refused the same way unless ``responses: {foreign_ids: allow}``. ``store: false``
responses are not recorded: nobody can continue them. The gateway serves no retrieve,
cancel or delete of a response by id: those paths answer 404 (plugins/openai/surface.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from plugins.openai.responses_meter import RESPONSE_ID_SINK
from plugins.openai.responses_store import RESPONSE_STORE, ResponseNotFound, ResponseStore
from proxy import hookimpl
from proxy.hooks import for_apis
from proxy.config import ConfigModel
from pydantic import Field
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.context import RequestContext, UsageRecord
    from proxy.sections import Spec

log = logging.getLogger("relaygate.responses")
RESPONSES_API = "openai.responses"


class WebSocketConfig(ConfigModel):
    """``responses.websocket``: the WebSocket mode (plugins/openai/responses_ws.py)."""

    enabled: bool = True
    idle_timeout_seconds: float = Field(600, gt=0, description="no message between responses for this long "
                                                                "closes the socket")
    max_message_bytes: int | None = Field(None, ge=1024, description="the largest response.create message; "
                                                                      "default server.max_body_bytes")
    max_connection_seconds: float = Field(3600, gt=0, description="then websocket_connection_limit_reached")
    heartbeat_seconds: float = Field(30, gt=0, description="ping interval: a peer that stops answering is closed")


class ResponsesConfig(ConfigModel):
    """``responses:``: who may continue a response by its id; the WebSocket mode."""

    foreign_ids: Literal["reject", "allow"] = "reject"     # ids this gateway never issued
    websocket: WebSocketConfig = WebSocketConfig()


#: the owner write started when a passthrough stream revealed its response id
_CLAIM: StashKey[asyncio.Task[None]] = StashKey("response_owners.claim")


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"responses": ResponsesConfig}


def _key(ctx: RequestContext) -> str:
    return ctx.principal.key_id if ctx.principal else ""


def _stored(ctx: RequestContext) -> bool:
    return isinstance(ctx.body, dict) and ctx.body.get("store") is not False


@hookimpl
@for_apis(RESPONSES_API)
def relaygate_validate_request(ctx: RequestContext) -> Awaitable[None] | None:
    if ctx.api.id != RESPONSES_API or not isinstance(ctx.body, dict):
        return None
    store = ctx.gateway.stash.get(RESPONSE_STORE)
    # Set for every Responses request, so a stream never reports to an earlier request's sink.
    RESPONSE_ID_SINK.set(_sink(ctx, store) if store is not None and _stored(ctx) else None)
    prev = ctx.body.get("previous_response_id")
    if not prev or store is None:
        return None
    return _check_owner(ctx, store, str(prev))


async def _check_owner(ctx: RequestContext, store: ResponseStore, response_id: str) -> None:
    owner = await store.owner(response_id)
    if owner == _key(ctx):
        return
    if owner is None and ctx.gateway.settings.section(ResponsesConfig).foreign_ids == "allow":
        return
    raise ResponseNotFound(response_id)


def _sink(ctx: RequestContext, store: ResponseStore) -> Callable[[str], None]:
    def claim(response_id: str) -> None:
        if ctx.route is None or not ctx.route.passthrough or _CLAIM in ctx.stash:
            return                                   # translated ids are the store's; one claim per request
        store.remember(response_id, _key(ctx))       # this process knows at once
        ctx.stash[_CLAIM] = asyncio.get_running_loop().create_task(_claim(store, response_id, _key(ctx)))
    return claim


async def _claim(store: ResponseStore, response_id: str, key_id: str) -> None:
    try:
        await store.claim(response_id, key_id)
    except Exception as exc:          # the request goes on; the id just stays unknown to other replicas
        log.error("could not record the owner of response %s: %s", response_id, type(exc).__name__)


@hookimpl
@for_apis(RESPONSES_API)
def relaygate_transform_response(ctx: RequestContext, body: dict[str, Any]) -> Awaitable[None] | None:
    # A whole (non-streamed) passthrough answer: record its owner before the client reads its id.
    if ctx.api.id != RESPONSES_API or ctx.route is None or not ctx.route.passthrough or not _stored(ctx):
        return None
    store = ctx.gateway.stash.get(RESPONSE_STORE)
    response_id = body.get("id")
    if store is None or not isinstance(response_id, str) or not response_id:
        return None
    return _claim(store, response_id, _key(ctx))


@hookimpl
@for_apis(RESPONSES_API)              # _CLAIM is only set by the Responses sink
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> Awaitable[None] | None:
    # A stream's owner write started when its id went by; the request is not done before it is.
    task = ctx.stash.pop(_CLAIM, None)
    return task if task is not None and not task.done() else None
