"""Running the gateway: one process, or N pre-forked workers sharing the port.

Graceful shutdown (SIGTERM/SIGINT): the listener closes, in-flight requests
and streams get up to ``server.drain_timeout_seconds`` to finish, then the
plugins flush (ledger) and the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import tempfile

from proxy.config import Settings

log = logging.getLogger("relaygate")


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - not on Windows
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_worker(settings: Settings, *, reuse_port: bool) -> None:
    from aiohttp import web

    from proxy.app import GATEWAY, make_app

    _install_uvloop()
    app = make_app(settings)

    async def mark_draining(app: web.Application) -> None:
        app[GATEWAY].draining = True

    app.on_shutdown.append(mark_draining)
    s = settings.server
    web.run_app(app, host=s.host, port=s.port, reuse_port=reuse_port or None, access_log=None,
                handler_cancellation=True, shutdown_timeout=s.drain_timeout_seconds,
                print=lambda msg: log.info("%s (pid %d)", msg.strip(), os.getpid()))


def serve(settings: Settings, config_path: str | None = None) -> int:
    workers = settings.server.workers
    log.info("relaygate: %d providers, %d endpoints, %d keys from %s", len(settings.providers),
             len(settings.endpoints), len(settings.keys), settings.source or config_path)
    if not settings.keys:
        log.warning("no gateway keys configured: every request will get 401 (set RELAYGATE_API_KEYS)")
    if workers == 1:
        run_worker(settings, reuse_port=False)
        return 0
    # Workers write metrics to files that /metrics merges (prometheus_client multiprocess mode).
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="relaygate-metrics-"))
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                run_worker(settings, reuse_port=True)
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    return 0 if status in (0, -signal.SIGTERM, -signal.SIGINT) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: relaygate serve")
