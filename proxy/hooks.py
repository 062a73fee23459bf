"""A typed facade over ``pm.hook``: the core calls hooks only through here.

Collect-all hooks may return awaitables; they are awaited in call order and
"first non-None wins" is decided here, not by pluggy (datasette style).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from proxy.context import Principal

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from proxy.answers import StoredAnswer
    from proxy.config import EndpointConfig
    from proxy.context import RequestContext, Route, UsageRecord
    from proxy.gateway import Gateway
    from proxy.upstream import Attempt

log = logging.getLogger("relaygate.hooks")

F = TypeVar("F", bound=Callable[..., Any])


def for_apis(*api_ids: str) -> Callable[[F], F]:
    """Mark a per-request hook implementation as having work only for requests in these wire
    formats (``ctx.api.id``): the stage never calls it for the others, decided once per format
    rather than by a test inside the implementation on every request."""
    def mark(fn: F) -> F:
        fn.relaygate_apis = frozenset(api_ids)  # type: ignore[attr-defined]
        return fn
    return mark


def active_when(test: Callable[[Gateway, EndpointConfig | None], bool]) -> Callable[[F], F]:
    """Mark a per-request hook implementation as having work only where *test* holds for the
    current configuration and the request's endpoint (None before routing, or when the request
    never got one). The stage asks once per endpoint and configuration (a reload asks again),
    so a feature nobody configured costs no call at all."""
    def mark(fn: F) -> F:
        fn.relaygate_active_when = test  # type: ignore[attr-defined]
        return fn
    return mark


async def _await_all(results: list[Any]) -> None:
    for i, r in enumerate(results):
        if r is not None and inspect.isawaitable(r):      # most implementations return None
            try:
                await r
            except BaseException:
                _close(results[i + 1:])     # a refusal ends the stage: don't leave coroutines unawaited
                raise


def _close(results: list[Any]) -> None:
    for r in results:
        if inspect.iscoroutine(r):
            r.close()


async def _first_non_none(results: list[Any]) -> Any:
    found = None
    for i, r in enumerate(results):
        if r is not None and inspect.isawaitable(r):
            try:
                r = await r         # run even after an answer, so no coroutine is left unawaited
            except BaseException:
                _close(results[i + 1:])
                raise
        if found is None and r is not None:
            found = r
    return found


class FastHook:
    """One per-request stage's implementations, called in pluggy's order without
    pluggy's per-call machinery.

    pluggy still registers, validates and orders them (tryfirst/trylast); the
    list is taken once at start-up because these stages run thousands of times
    a second. Wrapper implementations are not supported on them.
    """

    __slots__ = ("impls", "_apis", "_tests", "_by_request")

    def __init__(self, caller: Any, argnames: tuple[str, ...]) -> None:
        self.impls: list[tuple[Any, str]] = []
        self._apis: list[frozenset[str] | None] = []
        self._tests: list[Callable[[Gateway, EndpointConfig | None], bool] | None] = []
        for impl in reversed(caller.get_hookimpls()):      # pluggy calls LIFO
            if impl.hookwrapper or impl.wrapper:
                raise TypeError(f"{caller.name}: wrapper implementations ({impl.plugin_name}) are not supported")
            self.impls.append((_positional(impl.function, tuple(argnames.index(a) for a in impl.argnames),
                                           len(argnames)), impl.plugin_name))
            self._apis.append(getattr(impl.function, "relaygate_apis", None))
            self._tests.append(getattr(impl.function, "relaygate_active_when", None))
        self._by_request: dict[tuple[str, int], tuple[EndpointConfig | None, tuple[tuple[Any, str], ...]]] = {}

    def __bool__(self) -> bool:
        return bool(self.impls)

    def for_request(self, ctx: RequestContext) -> tuple[tuple[Any, str], ...]:
        """The (fn, plugin name) pairs with work for *ctx*'s wire format (see :func:`for_apis`) and
        endpoint under the current configuration (see :func:`active_when`), in call order."""
        endpoint = ctx.endpoint
        key = (ctx.api.id, id(endpoint))
        found = self._by_request.get(key)
        if found is not None and found[0] is endpoint:
            return found[1]
        impls = tuple(impl for impl, apis, test in zip(self.impls, self._apis, self._tests)
                      if (apis is None or ctx.api.id in apis) and (test is None or test(ctx.gateway, endpoint)))
        self._by_request[key] = (endpoint, impls)
        return impls

    def forget(self) -> None:
        """The configuration changed: decide again which implementations have work."""
        self._by_request.clear()


def _positional(fn: Any, idx: tuple[int, ...], nargs: int) -> Any:
    """*fn* called with the stage's full argument list; an adapter only when it takes fewer or reorders."""
    if idx == tuple(range(nargs)):
        return fn                         # the common case: no adapter, no per-call cost
    return lambda *args: fn(*[args[i] for i in idx])


class Hooks:
    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._h = pm.hook
        self.refresh()

    def refresh(self) -> None:
        """Take the per-request stages' implementations anew: a plugin that registers more at
        start-up (``pm.register``, e.g. tracing only when it is configured) calls this, so a
        feature that is off costs no hook call at all."""
        h = self._h
        self._authenticate = FastHook(h.relaygate_authenticate, ("ctx",))
        self._validate = FastHook(h.relaygate_validate_request, ("ctx",))
        self._select = FastHook(h.relaygate_select_route, ("ctx", "candidates"))
        self._admit = FastHook(h.relaygate_admit_request, ("ctx", "route"))
        self._answer = FastHook(h.relaygate_answer_request, ("ctx", "route"))
        self._prepare = FastHook(h.relaygate_prepare_upstream_body, ("ctx", "route", "body"))
        self._transform = FastHook(h.relaygate_transform_response, ("ctx", "body"))
        self._attempt = FastHook(h.relaygate_attempt_started, ("ctx", "route", "attempt"))
        self._record = FastHook(h.relaygate_record_usage, ("ctx", "record"))
        self._finished = FastHook(h.relaygate_request_finished, ("ctx",))
        self._stages = (self._authenticate, self._validate, self._select, self._admit, self._answer, self._prepare,
                        self._transform, self._attempt, self._record, self._finished)
        self.has_attempt_listeners = bool(self._attempt)

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
        for stage in self._stages:
            stage.forget()

    # -- per request
    async def authenticate(self, ctx: RequestContext) -> Principal | None:
        results = [fn(ctx) for fn, _ in self._authenticate.for_request(ctx)]
        found = None
        for r in results:
            if r is not None:
                # (a Principal is the usual answer: no awaitable check, which costs an ABC lookup)
                if type(r) is not Principal and inspect.isawaitable(r):   # rare: an async authenticator
                    return await _first_non_none(results)  # type: ignore[no-any-return]
                if found is None:
                    found = r
        return found

    async def validate_request(self, ctx: RequestContext) -> None:
        impls = self._validate.for_request(ctx)
        if impls:
            results = [fn(ctx) for fn, _ in impls]
            if results.count(None) < len(results):      # only then is there anything to await
                await _await_all(results)

    def select_route(self, ctx: RequestContext, candidates: list[Route]) -> Route | None:
        for fn, _ in self._select.for_request(ctx):
            r = fn(ctx, candidates)
            if r is not None:
                return r  # type: ignore[no-any-return]
        return None

    async def admit_request(self, ctx: RequestContext, route: Route) -> None:
        impls = self._admit.for_request(ctx)
        if impls:
            results = [fn(ctx, route) for fn, _ in impls]
            if results.count(None) < len(results):
                await _await_all(results)

    def answer_request(self, ctx: RequestContext, route: Route) -> Awaitable[StoredAnswer | None] | None:
        """The first stored answer an implementation gives (awaitable), or None when no
        implementation has work for this endpoint (call the provider, no coroutine made)."""
        impls = self._answer.for_request(ctx)
        if not impls:
            return None
        return _first_non_none([fn(ctx, route) for fn, _ in impls])

    def prepares_body(self, ctx: RequestContext) -> bool:
        return bool(self._prepare.for_request(ctx))

    def prepare_upstream_body(self, ctx: RequestContext, route: Route, body: dict[str, Any]) -> dict[str, Any]:
        """*body* through every preparer in call order; one that fails leaves the body as it was."""
        for fn, name in self._prepare.for_request(ctx):
            try:
                changed = fn(ctx, route, body)
            except Exception:
                log.exception("prepare_upstream_body hook of %s failed for request %s", name, ctx.request_id)
                continue
            if changed is not None:
                body = changed
        return body

    def transforms_response(self, ctx: RequestContext) -> bool:
        return bool(self._transform.for_request(ctx))

    async def transform_response(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any] | None:
        """Chain the transformers in call order; the final body, or None when none changed it."""
        changed = None
        for fn, _ in self._transform.for_request(ctx):
            r = fn(ctx, body if changed is None else changed)
            if inspect.isawaitable(r):
                r = await r
            if r is not None:
                changed = r
        return changed

    def attempt_started(self, ctx: RequestContext, route: Route, attempt: Attempt) -> dict[str, str]:
        """The headers the implementations add to this attempt's provider request."""
        extra: dict[str, str] = {}
        for fn, name in self._attempt.for_request(ctx):
            try:
                headers = fn(ctx, route, attempt)
            except Exception:               # an observer must never fail the provider call
                log.exception("attempt_started hook of %s failed for request %s", name, ctx.request_id)
                continue
            if headers:
                extra.update(headers)
        return extra

    async def record_usage(self, ctx: RequestContext, record: UsageRecord) -> None:
        # Every sink runs even if one fails: the ledger must get its row.
        for fn, name in self._record.for_request(ctx):
            try:
                r = fn(ctx, record)
                if r is not None and inspect.isawaitable(r):
                    await r
            except Exception:
                log.exception("record_usage hook of %s failed", name)

    def request_finished(self, ctx: RequestContext) -> None:
        for fn, name in self._finished.for_request(ctx):
            try:
                fn(ctx)
            except Exception:
                log.exception("request_finished hook of %s failed for request %s", name, ctx.request_id)
