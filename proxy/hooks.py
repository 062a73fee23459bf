"""A typed facade over ``pm.hook``: the core calls hooks only through here.

Collect-all hooks may return awaitables; they are awaited in call order and
"first non-None wins" is decided here, not by pluggy (datasette style).
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from proxy.context import Principal, RequestContext, Route, UsageRecord
    from proxy.gateway import Gateway

log = logging.getLogger("relaygate.hooks")


async def _await_all(results: list[Any]) -> None:
    for r in results:
        if inspect.isawaitable(r):
            await r


async def _first_non_none(results: list[Any]) -> Any:
    found = None
    for r in results:
        if inspect.isawaitable(r):
            if found is not None:
                # Already answered: still run it so no coroutine is left unawaited.
                await r
                continue
            r = await r
        if found is None and r is not None:
            found = r
    return found


class Hooks:
    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._h = pm.hook
        # Stages nobody implements cost nothing per request.
        self.has_validators = bool(self._h.relaygate_validate_request.get_hookimpls())
        self.has_admitters = bool(self._h.relaygate_admit_request.get_hookimpls())
        self.has_response_transformers = bool(self._h.relaygate_transform_response.get_hookimpls())

    # -- start-up
    async def startup(self, gateway: Gateway) -> None:
        await _await_all(self._h.relaygate_startup(gateway=gateway))

    async def shutdown(self, gateway: Gateway) -> None:
        # pluggy calls LIFO; shut down in reverse of startup order is what we want.
        for impl in reversed(self._h.relaygate_shutdown.get_hookimpls()):
            try:
                r = impl.function(gateway=gateway)
                if inspect.isawaitable(r):
                    await r
            except Exception:  # one plugin's failure must not stop the others flushing
                log.exception("shutdown hook of %s failed", impl.plugin_name)

    async def config_loaded(self, gateway: Gateway) -> None:
        await _await_all(self._h.relaygate_config_loaded(gateway=gateway))

    # -- per request
    async def authenticate(self, ctx: RequestContext) -> Principal | None:
        return await _first_non_none(self._h.relaygate_authenticate(ctx=ctx))  # type: ignore[no-any-return]

    async def validate_request(self, ctx: RequestContext) -> None:
        if self.has_validators:
            await _await_all(self._h.relaygate_validate_request(ctx=ctx))

    def select_route(self, ctx: RequestContext, candidates: list[Route]) -> Route | None:
        return self._h.relaygate_select_route(ctx=ctx, candidates=candidates)  # type: ignore[no-any-return]

    async def admit_request(self, ctx: RequestContext, route: Route) -> None:
        if self.has_admitters:
            await _await_all(self._h.relaygate_admit_request(ctx=ctx, route=route))

    async def transform_response(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any] | None:
        """Chain the transformers in call order; the final body, or None when none changed it."""
        changed = None
        for impl in reversed(self._h.relaygate_transform_response.get_hookimpls()):
            r = impl.function(ctx=ctx, body=body if changed is None else changed)
            if inspect.isawaitable(r):
                r = await r
            if r is not None:
                changed = r
        return changed

    async def record_usage(self, ctx: RequestContext, record: UsageRecord) -> None:
        try:
            await _await_all(self._h.relaygate_record_usage(ctx=ctx, record=record))
        except Exception:
            log.exception("record_usage hook failed for request %s", ctx.request_id)

    def request_finished(self, ctx: RequestContext) -> None:
        try:
            self._h.relaygate_request_finished(ctx=ctx)
        except Exception:
            log.exception("request_finished hook failed for request %s", ctx.request_id)
