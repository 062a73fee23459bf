"""Access-log lines written in batches by a thread: the request path only appends to a deque.

With the default logging set-up (``proxy.logs``: one JSON handler on stderr, nothing else on
the way) the writer renders each line with orjson exactly as :class:`~proxy.logs.JsonFormatter`
would and writes a whole batch with one ``write``. With any other set-up (text format, an
operator's handlers, pytest's ``caplog``) it hands each line to :mod:`logging` as a record
stamped with the time of the request, so every handler still sees every line. ``stop``
writes what is left: nothing is lost on shutdown.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

import orjson

from proxy.logs import JsonFormatter, StderrHandler, json_timestamp

#: how long the writer gathers lines after the first of a batch before it writes them
FLUSH_INTERVAL = 0.05
#: the longest the writer sleeps without being woken
IDLE_CHECK = 1.0


def plain_json_to_stderr(log: logging.Logger) -> StderrHandler | None:
    """The only handler *log*'s records reach when it is the default JSON one to stderr, else None."""
    found: list[logging.Handler] = []
    node: logging.Logger | None = log
    while node is not None:
        if node.filters:
            return None
        found += node.handlers
        if not node.propagate:
            break
        node = node.parent
    if len(found) != 1:
        return None
    handler = found[0]
    if type(handler) is not StderrHandler or type(handler.formatter) is not JsonFormatter or handler.filters:
        return None
    return handler if handler.level <= logging.INFO else None


class LineWriter:
    """Lines of one logger (message *msg*, fields as ``extra``), written by a thread in batches."""

    def __init__(self, log: logging.Logger, msg: str, interval: float = FLUSH_INTERVAL) -> None:
        self.log = log
        self.msg = msg
        self.interval = interval
        self.pending: deque[tuple[float, dict[str, Any]]] = deque()     # append/popleft: thread-safe
        self._head = {"ts": "", "level": "info", "logger": log.name, "msg": msg}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()                  # one batch at a time (thread and stop)
        self._thread = threading.Thread(target=self._run, name=f"{log.name}-writer", daemon=True)
        self._thread.start()

    def add(self, created: float, fields: dict[str, Any]) -> None:
        first = not self.pending
        self.pending.append((created, fields))
        if first:
            self._wake.set()                   # once per batch: an idle gateway's writer sleeps

    def _run(self) -> None:
        while not self._stop.is_set():
            # A line added while a flush ends may miss the wake-up: the timeout picks it up.
            self._wake.wait(IDLE_CHECK)
            self._stop.wait(self.interval)      # gather the batch (returns at once on stop)
            self._wake.clear()
            if self.pending:
                self.flush()

    def flush(self) -> None:
        with self._lock:
            pending = self.pending
            if not pending:
                return
            handler = plain_json_to_stderr(self.log)
            if handler is None:
                while pending:
                    self._emit(*pending.popleft())
                return
            lines = []
            head = self._head
            second, stamp = -1, ""
            while pending:
                created, fields = pending.popleft()
                if int(created) != second:              # strftime once per second of lines
                    second, stamp = int(created), json_timestamp(created)[:-5]
                head["ts"] = f"{stamp}.{int((created - second) * 1000):03d}Z"
                lines.append(orjson.dumps({**head, **fields}, default=str))
            text = (b"\n".join(lines) + b"\n").decode()
            handler.acquire()                          # never between another record's bytes
            try:
                stream = handler.stream
                stream.write(text)
                stream.flush()
            finally:
                handler.release()

    def _emit(self, created: float, fields: dict[str, Any]) -> None:
        log = self.log
        record = log.makeRecord(log.name, logging.INFO, __file__, 0, self.msg, (), None, extra=fields)
        record.created = created
        record.msecs = int((created - int(created)) * 1000) + 0.0
        log.handle(record)

    def stop(self) -> None:
        """Stop the thread and write every line still pending."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
