"""Runs ``relaygate serve`` with stage markers: each marker dumps callgrind's counts since the
previous one, labelled with the stage that just ended (tests/bench/profile.py reads them).

Markers wrap the pipeline's stage functions from outside (monkeypatching here, in the bench),
so the gateway's own code carries no profiling hooks. Requests must be sequential: everything
between two markers is charged to one stage, including event-loop work and other threads.

    python launcher.py PROBE.so serve --port N
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Any

_probe = ctypes.CDLL(sys.argv[1])
_dump = _probe.relaygate_stage_dump
_dump.argtypes = [ctypes.c_char_p]
_current = [b"server"]


def mark(stage: str) -> None:
    """Close the running stage (dump its counts under its name) and open *stage*."""
    _dump(_current[0])
    _current[0] = stage.encode()


def wrap_async(owner: Any, attr: str, stage: str, after: str = "core") -> None:
    fn = getattr(owner, attr)

    @functools.wraps(fn)
    async def marked(*args: Any, **kwargs: Any) -> Any:
        mark(stage)
        try:
            return await fn(*args, **kwargs)
        finally:
            mark(after)
    setattr(owner, attr, marked)


def wrap_sync(owner: Any, attr: str, stage: str, after: str = "core") -> None:
    fn = getattr(owner, attr)

    @functools.wraps(fn)
    def marked(*args: Any, **kwargs: Any) -> Any:
        mark(stage)
        try:
            return fn(*args, **kwargs)
        finally:
            mark(after)
    setattr(owner, attr, marked)


def install() -> None:
    from plugins.metering import ledger
    from proxy import hooks, pipeline, providers, upstream

    handle = pipeline.handle

    async def marked_handle(*args: Any, **kwargs: Any) -> Any:
        mark("core")
        try:
            return await handle(*args, **kwargs)
        finally:
            mark("server")          # aiohttp writes the response, reads and parses the next request
    pipeline.handle = marked_handle
    from proxy import app
    app.handle = marked_handle      # make_app binds the name it imported
    wrap_async(pipeline, "require_principal", "auth hooks")
    wrap_async(pipeline, "_read_body", "read + parse body")
    wrap_async(hooks.Hooks, "validate_request", "validate hooks")
    wrap_sync(hooks.Hooks, "select_route", "select_route hooks")
    wrap_async(hooks.Hooks, "admit_request", "admit hooks")
    wrap_sync(upstream, "upstream_body", "exchange: request body")
    wrap_async(providers.Provider, "prepare", "provider: build + serialise")
    wrap_async(upstream, "_open", "aiohttp client: send, wait for headers")
    wrap_async(upstream, "_relay_body", "relay answer (read, usage, respond)")
    wrap_async(upstream, "_relay_stream", "relay stream (chunks, meter, write)")
    wrap_async(hooks.Hooks, "record_usage", "record_usage hooks (ledger row, pricing)")
    wrap_sync(hooks.Hooks, "request_finished", "request_finished hooks (metrics, access log)", after="core")
    wrap_async(ledger.LedgerWriter, "flush", "ledger batch write (SQLite)", after="server")


def calibrate(n: int = 1000) -> None:
    """n back-to-back markers: their cost, subtracted from each stage by profile.py."""
    for _ in range(n):
        mark("calibrate")
    mark("server")


if __name__ == "__main__":
    so = sys.argv.pop(1)
    sys.argv[0] = "relaygate"
    install()
    from proxy.cli import main
    import signal
    signal.signal(signal.SIGUSR2, lambda *_: calibrate())
    sys.exit(main())
