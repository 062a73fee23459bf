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

if TYPE_CHECKING:
    from proxy.answers import StoredAnswer
    from proxy.context import Principal, RequestContext, Route, UsageRecord
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

    __slots__ = ("impls", "fns", "_apis", "_by_api")

    def __init__(self, caller: Any, argnames: tuple[str, ...]) -> None:
        self.impls: list[tuple[Any, str]] = []
        self._apis: list[frozenset[str] | None] = []
        for impl in reversed(caller.get_hookimpls()):      # pluggy calls LIFO
            if impl.hookwrapper or impl.wrapper:
                raise TypeError(f"{caller.name}: wrapper implementations ({impl.plugin_name}) are not supported")
            self.impls.append((_positional(impl.function, tuple(argnames.index(a) for a in impl.argnames),
                                           len(argnames)), impl.plugin_name))
            self._apis.append(getattr(impl.function, "relaygate_apis", None))
        #: every implementation as ``fn(*args)`` with all the stage's arguments, in call order
        self.fns = tuple(fn for fn, _ in self.impls)
        self._by_api: dict[str, tuple[tuple[Any, str], ...]] = {}

    def __bool__(self) -> bool:
        return bool(self.impls)

    def for_api(self, api_id: str) -> tuple[tuple[Any, str], ...]:
        """The (fn, plugin name) pairs with work for requests in *api_id* (see :func:`for_apis`)."""
        found = self._by_api.get(api_id)
        if found is None:
            found = self._by_api[api_id] = tuple(
                impl for impl, apis in zip(self.impls, self._apis) if apis is None or api_id in apis)
        return found

    def call(self, *args: Any) -> list[Any]:
        return [fn(*args) for fn in self.fns]

    def first(self, *args: Any) -> Any:
        for fn in self.fns:
            r = fn(*args)
            if r is not None:
                return r
        return None

    async def each_isolated(self, log_what: str, *args: Any) -> None:
        """Call all, awaiting results; one implementation's failure never stops the others."""
        for fn, name in self.impls:
            try:
                r = fn(*args)
                if r is not None and inspect.isawaitable(r):
                    await r
            except Exception:
                log.exception("%s hook of %s failed", log_what, name)


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
        self.has_response_transformers = bool(self._transform)
        self.has_attempt_listeners = bool(self._attempt)
        self.has_answerers = bool(self._answer)
        self.has_body_preparers = bool(self._prepare)

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
        results = self._authenticate.call(ctx)
        found = None
        for r in results:
            if r is not None:
                if inspect.isawaitable(r):          # rare: an async authenticator; await them all in order
                    return await _first_non_none(results)  # type: ignore[no-any-return]
                if found is None:
                    found = r
        return found

    async def validate_request(self, ctx: RequestContext) -> None:
        impls = self._validate.for_api(ctx.api.id)
        if impls:
            results = [fn(ctx) for fn, _ in impls]
            if results.count(None) < len(results):      # only then is there anything to await
                await _await_all(results)

    def select_route(self, ctx: RequestContext, candidates: list[Route]) -> Route | None:
        return self._select.first(ctx, candidates)  # type: ignore[no-any-return]

    async def admit_request(self, ctx: RequestContext, route: Route) -> None:
        impls = self._admit.for_api(ctx.api.id)
        if impls:
            results = [fn(ctx, route) for fn, _ in impls]
            if results.count(None) < len(results):
                await _await_all(results)

    async def answer_request(self, ctx: RequestContext, route: Route) -> StoredAnswer | None:
        """The first stored answer an implementation gives, or None (call the provider)."""
        return await _first_non_none(self._answer.call(ctx, route))  # type: ignore[no-any-return]

    def prepare_upstream_body(self, ctx: RequestContext, route: Route, body: dict[str, Any]) -> dict[str, Any]:
        """*body* through every preparer in call order; one that fails leaves the body as it was."""
        for fn, name in self._prepare.impls:
            try:
                changed = fn(ctx, route, body)
            except Exception:
                log.exception("prepare_upstream_body hook of %s failed for request %s", name, ctx.request_id)
                continue
            if changed is not None:
                body = changed
        return body

    async def transform_response(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any] | None:
        """Chain the transformers in call order; the final body, or None when none changed it."""
        changed = None
        for fn in self._transform.fns:
            r = fn(ctx, body if changed is None else changed)
            if inspect.isawaitable(r):
                r = await r
            if r is not None:
                changed = r
        return changed

    def attempt_started(self, ctx: RequestContext, route: Route, attempt: Attempt) -> dict[str, str]:
        """The headers the implementations add to this attempt's provider request."""
        extra: dict[str, str] = {}
        for fn, name in self._attempt.impls:
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
        for fn, name in self._record.for_api(ctx.api.id):
            try:
                r = fn(ctx, record)
                if r is not None and inspect.isawaitable(r):
                    await r
            except Exception:
                log.exception("record_usage hook of %s failed", name)

    def request_finished(self, ctx: RequestContext) -> None:
        for fn, name in self._finished.for_api(ctx.api.id):
            try:
                fn(ctx)
            except Exception:
                log.exception("request_finished hook of %s failed for request %s", name, ctx.request_id)
