"""A local, crash-safe spool for rows the store could not take.

Each spilled batch becomes one file of JSON lines, written to a temporary
name, fsync'd, then renamed, so a reader never sees half a batch. Files are
named ``<table>-<time_ns>-<pid>-<seq>.jsonl``: several workers can share one
directory, and sorting the names ships batches roughly in the order they were
spilled. Shipping is idempotent because the stores ignore a row whose
(request_id, attempt) they already have; a file is deleted only after all its
rows were written.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("relaygate.ledger.spool")
_seq = itertools.count()


class Spool:
    def __init__(self, directory: str, table: str) -> None:
        self.dir = Path(directory)
        self.table = table
        self.spilled_rows = 0       # rows this process put in the spool
        self.shipped_rows = 0       # rows shipped from the spool (any process's files)

    def append(self, rows: list[tuple[Any, ...]]) -> Path:
        """Write *rows* durably as one new file (blocking: call via a thread on the event loop)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"{self.table}-{time.time_ns()}-{os.getpid()}-{next(_seq):06d}.jsonl"
        tmp = self.dir / ("." + name + ".tmp")
        data = b"".join(orjson.dumps(list(r)) + b"\n" for r in rows)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        final = self.dir / name
        os.rename(tmp, final)
        _fsync_dir(self.dir)
        self.spilled_rows += len(rows)
        return final

    def files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir()
                      if p.name.startswith(self.table + "-") and p.name.endswith(".jsonl"))

    def pending_rows(self) -> int:
        """Rows waiting in the spool (reads the files: for tests and tools, not the hot path)."""
        return sum(len(load(p)) for p in self.files())

    def done(self, path: Path, rows: int) -> None:
        try:
            path.unlink()
        except FileNotFoundError:       # another worker shipped the same file: the store ignored duplicates
            pass
        self.shipped_rows += rows


def load(path: Path) -> list[tuple[Any, ...]]:
    """The rows of one spool file; a torn last line (crash mid-write of a foreign tool) is skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    rows = []
    for line in data.splitlines():
        try:
            rows.append(tuple(orjson.loads(line)))
        except orjson.JSONDecodeError:
            log.error("spool file %s has a malformed line; skipping it", path.name)
    return rows


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
