"""The price catalogue in a short-lived helper process, so that genai-prices never lives in the gateway.

genai-prices with its bundled snapshot costs the process that reads it ~11 MB and ~0.2 s of CPU
(PERFORMANCE.md, "Footprint"): a third of a sidecar's memory for a lookup done once per model.
The gateway asks a helper process instead, the first time it needs the prices of a
(provider, model) on a day, and keeps the answer (:class:`PriceBook`). The catalogue stays the
source of truth: the helper runs :func:`plugins.metering.catalogue.lookup`, as the gateway did.

Protocol: ``python -m plugins.metering.price_helper`` reads one question per line on stdin,
``[provider_type, base_url, model, "YYYY-MM-DD"]``, and writes one answer per line on stdout,
``{"label": "genai-prices 0.2.3 (prices dated up to ...)", "price": {...} or null}``; it ends at EOF.

On the event loop the helper is kept while questions come and ended after :data:`IDLE_SECONDS`
without one: a wildcard endpoint meets models nobody named in advance, several at first, then
rarely. Threads and commands ask a one-shot helper (:meth:`PriceBook.lookup_blocking`).
This module imports nothing heavy: it is imported by the gateway.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from plugins.metering.rates import CataloguePrice

#: (provider type, base URL, model, day)
Key = tuple[str, str, str, dt.date]
#: the helper ends this long after its last question: it costs ~35-39 MB while it lives, which a
#: sidecar's memory limit counts; a burst of new models (a config load, a new client) fits in it,
#: and a later new model pays ~0.3 s of a fresh start, off the request path
IDLE_SECONDS = 5.0
#: a first answer includes starting Python and reading the catalogue: seconds on a busy machine
ANSWER_TIMEOUT_SECONDS = 60.0
#: answers kept (wildcard endpoints: model names are the clients'); the oldest go first
MAX_KNOWN = 4096
ROOT = str(Path(__file__).resolve().parents[2])      # the directory that holds the plugins package


class PriceHelperError(RuntimeError):
    """The helper process could not answer."""


def command() -> tuple[list[str], dict[str, str]]:
    """The helper's command line and environment: this interpreter, this checkout or install
    (``-P``: not the working directory, which the gateway may write to)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return [sys.executable, "-P", "-m", "plugins.metering.price_helper"], env


def question(key: Key) -> bytes:
    provider_type, base_url, model, day = key
    return json.dumps([provider_type, base_url, model, day.isoformat()]).encode() + b"\n"


class PriceBook:
    """Catalogue answers by (provider type, base URL, model, day), asked of the helper once each."""

    def __init__(self) -> None:
        self.known: dict[Key, CataloguePrice | None] = {}
        #: the catalogue's label (version and price date) as the first answer gave it, kept for
        #: the life of the process as the in-process catalogue kept it
        self.label = ""
        self._asker: _Asker | None = None

    def learn(self, key: Key, answer: dict[str, Any]) -> CataloguePrice | None:
        if "error" in answer:                 # the catalogue failed on this question: not kept, asked again
            raise PriceHelperError(f"the price catalogue failed on {key[2]!r}: {answer['error']}")
        price = CataloguePrice.from_json(answer["price"]) if answer.get("price") is not None else None
        self.label = self.label or str(answer["label"])
        if len(self.known) >= MAX_KNOWN:
            del self.known[next(iter(self.known))]
        self.known[key] = price
        return price

    async def lookup(self, key: Key) -> CataloguePrice | None:
        """The catalogue's prices for *key*, asking the helper on first sight (off the event loop)."""
        if key in self.known:
            return self.known[key]
        return await self._loop_asker().ask(key)

    def prefetch(self, key: Key) -> None:
        """Start asking for *key* now (a request is about to need it); the answer lands in :attr:`known`."""
        if key not in self.known:
            self._loop_asker().ask(key)

    def lookup_blocking(self, key: Key) -> CataloguePrice | None:
        """As :meth:`lookup`, blocking: for threads and commands, never the event loop."""
        if key not in self.known:
            argv, env = command()
            try:
                done = subprocess.run(argv, input=question(key), capture_output=True, env=env, check=True,
                                      timeout=ANSWER_TIMEOUT_SECONDS)
            except (OSError, subprocess.SubprocessError) as exc:
                raise PriceHelperError(f"the price catalogue helper failed: {exc}") from None
            self.learn(key, json.loads(done.stdout.splitlines()[0]))
        return self.known[key]

    async def settled(self) -> None:
        """Wait for the questions this event loop has out (a prefetch at start-up, say)."""
        asker = self._asker
        while asker is not None and asker.loop is asyncio.get_running_loop() and asker.pending:
            await asyncio.gather(*asker.pending.values(), return_exceptions=True)

    async def close(self) -> None:
        """End this event loop's helper (gateway shutdown)."""
        asker, self._asker = self._asker, None
        if asker is not None and asker.loop is asyncio.get_running_loop():
            await asker.stop()

    def _loop_asker(self) -> _Asker:
        loop = asyncio.get_running_loop()
        if self._asker is None or self._asker.loop is not loop:      # a new loop (tests): a new helper
            self._asker = _Asker(self, loop)
        return self._asker


class _Asker:
    """One event loop's helper process: questions one at a time, answers into the book."""

    def __init__(self, book: PriceBook, loop: asyncio.AbstractEventLoop) -> None:
        self.book, self.loop = book, loop
        self.proc: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()
        self.pending: dict[Key, asyncio.Future[CataloguePrice | None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.idle: asyncio.TimerHandle | None = None

    def ask(self, key: Key) -> asyncio.Future[CataloguePrice | None]:
        fut = self.pending.get(key)
        if fut is None:
            fut = self.pending[key] = self.loop.create_future()
            task = self.loop.create_task(self._answer(key, fut))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return fut

    async def _answer(self, key: Key, fut: asyncio.Future[CataloguePrice | None]) -> None:
        try:
            async with self.lock:
                found = self.book.known[key] if key in self.book.known else await self._ask(key)
            fut.set_result(found)
        except Exception as exc:
            fut.set_exception(exc)
            fut.exception()                   # retrieved: a prefetch nobody awaited logs nothing
        finally:
            del self.pending[key]

    async def _ask(self, key: Key) -> CataloguePrice | None:
        if self.idle is not None:
            self.idle.cancel()
        for _ in range(2):                    # a helper that ended (idle, killed) is started again once
            proc = self.proc if self.proc is not None and self.proc.returncode is None else await self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(question(key))
                await proc.stdin.drain()
                line = await asyncio.wait_for(proc.stdout.readline(), ANSWER_TIMEOUT_SECONDS)
            except (ConnectionError, TimeoutError):
                line = b""
            if line:
                self.idle = self.loop.call_later(IDLE_SECONDS, self._stop_soon)
                return self.book.learn(key, json.loads(line))
            await self.stop()
        raise PriceHelperError("the price catalogue helper gave no answer")

    async def _start(self) -> asyncio.subprocess.Process:
        argv, env = command()
        self.proc = await asyncio.create_subprocess_exec(*argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                         env=env)
        return self.proc

    def _stop_soon(self) -> None:
        task = self.loop.create_task(self._stop_idle(self.idle))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _stop_idle(self, timer: asyncio.TimerHandle | None) -> None:
        async with self.lock:                 # not while a question is out
            if self.idle is timer:            # else a question came since, and set a new timer
                await self.stop()

    async def stop(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()                # EOF: the helper ends
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# -- the helper process ----------------------------------------------------------


def answer(provider_type: str, base_url: str, model: str, day: str) -> dict[str, Any]:
    from plugins.metering import catalogue

    try:
        found = catalogue.lookup(provider_type, base_url, model, dt.date.fromisoformat(day))
    except Exception as exc:                  # one odd model name must not end the helper
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"label": catalogue.catalogue_label(), "price": found.to_json() if found is not None else None}


def main() -> None:
    for line in sys.stdin:
        sys.stdout.write(json.dumps(answer(*json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
