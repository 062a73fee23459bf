"""``/healthz`` (the process is alive, with each dependency's state) and ``/readyz`` (it can serve).

Readiness means "can serve": configuration loaded, not shutting down, and the
checks in ``HEALTH_CHECKS`` pass (a fail-closed limiter's Redis). Dependencies
the gateway serves without (``DEPENDENCY_CHECKS``: a fail-open limiter's Redis,
the ledger's store behind its spool, the key store behind its cache) never make
it unready: every replica would leave the load balancer at once, a full outage
for a partial one. Their state shows in ``/healthz`` (always 200 while the
process runs, also during a drain) and in ``relaygate_dependency_up``, from a
poll every POLL_SECONDS, so a liveness probe never waits on a dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from proxy import hookimpl
from proxy.gateway import DEPENDENCY_CHECKS, DEPENDENCY_STATE, HEALTH_CHECKS, Gateway
from proxy.stash import StashKey
from proxy.surfaces import RouteTable

#: a check that has not answered within this is down
CHECK_TIMEOUT_SECONDS = 2.0
POLL_SECONDS = 5.0
POLL_TASK: StashKey[asyncio.Task[None]] = StashKey("health.poll_task")

Check = Callable[[], bool | Awaitable[bool]]


async def run_check(check: Check) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            result = check()
            return bool(await result if inspect.isawaitable(result) else result)
    except Exception:
        return False


async def run_checks(checks: dict[str, Check]) -> dict[str, bool]:
    names = list(checks)
    results = await asyncio.gather(*(run_check(checks[n]) for n in names))
    return dict(zip(names, results))


async def poll(gateway: Gateway) -> dict[str, bool]:
    """Every check's state now (readiness and dependency checks), kept for /healthz and metrics."""
    ready, deps = gateway.stash.get(HEALTH_CHECKS, {}), gateway.stash.get(DEPENDENCY_CHECKS, {})
    state = await run_checks({**ready, **deps})
    gateway.stash[DEPENDENCY_STATE] = state
    return state


async def _poll_forever(gateway: Gateway) -> None:
    while True:
        await poll(gateway)
        await asyncio.sleep(POLL_SECONDS)


def _json(status: int, body: object) -> web.Response:
    return web.Response(status=status, content_type="application/json", body=orjson.dumps(body))


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    async def healthz(request: web.Request) -> web.Response:
        state = gateway.stash.get(DEPENDENCY_STATE)
        if state is None:                         # before the first poll finished
            state = await poll(gateway)
        return _json(200, {"status": "ok" if all(state.values()) else "degraded",
                           "checks": {name: "up" if up else "down" for name, up in state.items()}})

    async def readyz(request: web.Request) -> web.Response:
        checks = {"config": gateway.ready and not gateway.draining,
                  **await run_checks(gateway.stash.get(HEALTH_CHECKS, {}))}
        ok = all(checks.values())
        degraded = sorted(n for n, up in gateway.stash.get(DEPENDENCY_STATE, {}).items()
                          if not up and n in gateway.stash.get(DEPENDENCY_CHECKS, {}))
        return _json(200 if ok else 503, {"status": "ready" if ok else "not ready", "checks": checks,
                                          "degraded": degraded})

    routes.add("GET", "/healthz", healthz)
    routes.add("GET", "/readyz", readyz)


@hookimpl
async def relaygate_startup(gateway: Gateway) -> None:
    gateway.stash[POLL_TASK] = asyncio.create_task(_poll_forever(gateway), name="relaygate-health-poll")


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    task = gateway.stash.pop(POLL_TASK, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
