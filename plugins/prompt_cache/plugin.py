"""``prompt_cache:`` per endpoint: the prefix stabiliser, then automatic Anthropic breakpoints.

Both work on each attempt's body in the provider's own format
(``relaygate_prepare_upstream_body``), so they apply whatever the client spoke: an
OpenAI, Responses or Gemini client on an Anthropic model gets breakpoints too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins.prompt_cache.breakpoints import add_breakpoints
from plugins.prompt_cache.config import PromptCacheConfig
from plugins.prompt_cache.stabilizer import stabilize
from proxy import hookimpl
from proxy.hooks import active_when

if TYPE_CHECKING:
    from proxy.context import RequestContext, Route
    from proxy.sections import Spec


@hookimpl
def relaygate_endpoint_fields() -> dict[str, Spec]:
    return {"prompt_cache": (PromptCacheConfig | None, None)}


@hookimpl
@active_when(lambda gateway, endpoint: getattr(endpoint, "prompt_cache", None) is not None)
def relaygate_prepare_upstream_body(ctx: RequestContext, route: Route, body: dict[str, Any]) -> dict[str, Any] | None:
    config: PromptCacheConfig | None = getattr(route.endpoint, "prompt_cache", None)
    if config is None:
        return None
    changed = None
    if config.stabilize:
        changed = stabilize(body, route.provider_api, config.stabilize)
    if config.auto_breakpoints and route.provider_api == "anthropic.messages":
        changed = add_breakpoints(changed or body, config.ttl) or changed
    return changed
