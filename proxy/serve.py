"""Running the gateway: one process, or N pre-forked workers sharing the port.

Graceful shutdown (SIGTERM, made for Kubernetes): ``/readyz`` turns 503 at
once while the listener keeps accepting for ``server.shutdown_delay_seconds``
(endpoints and load balancers notice; ``/healthz`` stays 200); then the
listener closes, in-flight requests and streams get up to
``server.drain_timeout_seconds`` to finish, the streams still open are cut with
their format's terminal error event (ledger outcome ``shutdown``), the plugins
flush (ledger) and the process exits 0. A second SIGTERM, or SIGINT, takes the
fast path: cut now, flush, exit.

Hot reload: SIGHUP, or a change of the config file (polled every
``server.reload_poll_seconds``), see :mod:`proxy.reload`.

Workers: the master forks N processes that each bind the port with
SO_REUSEPORT (the kernel spreads connections), forwards signals to them,
replaces a worker that dies unexpectedly and marks dead workers in the
Prometheus multiprocess directory so their live gauges disappear.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

from proxy import stream_end
from proxy.config import Settings

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("relaygate")

#: after the cut, how long streams get to write their error event before handlers are cancelled
CUT_GRACE_SECONDS = 2.0


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - not on Windows
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def runner_options(settings: Settings) -> dict[str, Any]:
    """aiohttp AppRunner arguments from the server settings (also used by the test harness)."""
    s = settings.server
    return {"handler_cancellation": True, "access_log": None, "shutdown_timeout": s.drain_timeout_seconds,
            "max_line_size": s.max_line_size, "max_field_size": s.max_field_size,
            "header_timeout_seconds": s.header_timeout_seconds}


def make_runner(app: web.Application, settings: Settings, **overrides: Any) -> web.AppRunner:
    """The runner `relaygate serve` uses (and the test harness): server settings, guarded connections."""
    from proxy.edge import GatewayRunner

    return GatewayRunner(app, **{**runner_options(settings), **overrides})


async def run_async(settings: Settings, config_path: str | None, *, reuse_port: bool) -> None:
    from aiohttp import web

    from proxy import reload
    from proxy.app import GATEWAY, make_app

    s = settings.server
    app = make_app(settings)
    gateway = app[GATEWAY]
    # The drain is ours (shutdown below); the runner only cancels what the cut left.
    runner = make_runner(app, settings, handle_signals=False, shutdown_timeout=CUT_GRACE_SECONDS)
    await runner.setup()
    # A deep accept queue: a burst of thousands of new streams must not overflow it (aiohttp's default is 128).
    site = web.TCPSite(runner, s.host, s.port, reuse_port=reuse_port or None, backlog=s.listen_backlog)
    await site.start()
    log.info("listening on http://%s:%d (pid %d)", s.host, s.port, os.getpid())

    loop = asyncio.get_running_loop()
    stop, fast = asyncio.Event(), asyncio.Event()

    def on_sigterm() -> None:
        if stop.is_set():
            fast.set()                            # a second SIGTERM: do not wait any more
        stop.set()

    def on_sigint() -> None:
        stop.set()
        fast.set()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    loop.add_signal_handler(signal.SIGINT, on_sigint)
    tasks: list[asyncio.Task[object]] = []
    if config_path:
        loop.add_signal_handler(signal.SIGHUP, lambda: tasks.append(
            asyncio.create_task(reload.reload(gateway, config_path))))
        if s.reload_poll_seconds:
            tasks.append(asyncio.create_task(reload.watch(gateway, config_path, s.reload_poll_seconds)))
    else:
        loop.add_signal_handler(signal.SIGHUP, lambda: log.warning("SIGHUP ignored: no --config file to reload"))

    await stop.wait()
    for task in tasks:
        task.cancel()
    await shutdown(gateway, runner, settings, fast)
    log.info("stopped (pid %d)", os.getpid())


def in_flight(gateway: Any) -> int:
    return sum(gateway.in_flight.values())


async def _until(fast: asyncio.Event, seconds: float, done: Any = None) -> None:
    """Wait *seconds*, less if *fast* is set or *done()* turns true."""
    deadline = time.monotonic() + seconds
    while not fast.is_set() and time.monotonic() < deadline and not (done and done()):
        try:
            await asyncio.wait_for(fast.wait(), min(0.05, max(0.0, deadline - time.monotonic())))
        except TimeoutError:
            pass


async def shutdown(gateway: Any, runner: Any, settings: Settings, fast: asyncio.Event) -> None:
    """Not ready, keep accepting for the delay, stop accepting, drain, cut the rest, flush."""
    s = settings.server
    gateway.draining = True                       # /readyz: 503 from now on
    log.info("shutting down (pid %d): not ready; %gs until the listener closes, then up to %gs for "
             "in-flight requests", os.getpid(), s.shutdown_delay_seconds, s.drain_timeout_seconds)
    await _until(fast, s.shutdown_delay_seconds)
    for site in list(runner.sites):
        await site.stop()                         # no new connections
    await _until(fast, s.drain_timeout_seconds, lambda: not in_flight(gateway))
    if in_flight(gateway):
        cut = stream_end.cut_open_streams(gateway)
        log.warning("shutdown: %d requests still in flight, %d streams cut with an error event",
                    in_flight(gateway), cut)
        await _until(asyncio.Event(), CUT_GRACE_SECONDS, lambda: not in_flight(gateway))
    # Cancels what is left (shutdown_timeout), then the plugins' cleanup flushes the ledger.
    await runner.cleanup()


def run_worker(settings: Settings, config_path: str | None = None, *, reuse_port: bool) -> None:
    _install_uvloop()
    asyncio.run(run_async(settings, config_path, reuse_port=reuse_port))


def serve(settings: Settings, config_path: str | None = None) -> int:
    workers = settings.server.workers
    log.info("relaygate: %d providers, %d endpoints, %d keys from %s", len(settings.providers),
             len(settings.endpoints), len(settings.keys), settings.source or config_path)
    if not settings.keys:
        log.warning("no gateway keys configured: every request will get 401 (set RELAYGATE_API_KEYS)")
    if workers == 1:
        run_worker(settings, config_path, reuse_port=False)
        return 0
    return _prefork(settings, config_path, workers)


def _use_multiprocess_metrics() -> str | None:
    """Point prometheus_client at a fresh shared directory; returns it if we created it."""
    created = None
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = created = tempfile.mkdtemp(prefix="relaygate-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    else:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):          # stale files of an earlier run would be merged in
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))
    from prometheus_client import values
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # in case it was imported already
    return created


def _prefork(settings: Settings, config_path: str | None, workers: int) -> int:
    from prometheus_client import multiprocess

    created = _use_multiprocess_metrics()
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                run_worker(settings, config_path, reuse_port=True)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children.add(pid)

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for child in list(children):
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    for _ in range(workers):
        spawn()
    status = 0
    restarts: list[float] = []
    while children:
        try:
            pid, code = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
            continue
        if pid not in children:
            continue
        children.discard(pid)
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
        exit_code = os.waitstatus_to_exitcode(code)
        if exit_code not in (0, -signal.SIGTERM, -signal.SIGINT):
            status = 1
        if not stopping:
            # A worker died on its own: replace it, but do not spin on a crash loop.
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 60] + [now]
            log.error("worker %d exited (%d); %s", pid, exit_code,
                      "restarting it" if len(restarts) <= 5 else "too many restarts, giving up")
            if len(restarts) <= 5:
                spawn()
                status = 0
    if created:
        shutil.rmtree(created, ignore_errors=True)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: relaygate serve")
