"""Helpers for the ledger tests: the real PostgreSQL, a loopback forwarder we can cut, traffic."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
import asyncpg
import pytest
from support.gateway import TEST_KEY

PG_DSN = os.environ.get("RELAYGATE_TEST_POSTGRES_DSN", "postgresql://root@127.0.0.1:5432/test")
MESSAGES = [{"role": "user", "content": "Count to twenty."}]


async def new_schema() -> str:
    """A fresh schema on the test server; FAIL (not skip) under CI=true when the server is missing."""
    try:
        con = await asyncpg.connect(PG_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable at {PG_DSN}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_DSN}: {exc}")
    schema = f"ledger_test_{os.getpid()}_{os.urandom(4).hex()}"
    await con.execute(f'CREATE SCHEMA "{schema}"')
    await con.close()
    return schema


async def drop_schema(schema: str) -> None:
    con = await asyncpg.connect(PG_DSN, timeout=3)
    try:
        await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await con.close()


async def pg_rows(schema: str, table: str = "ledger") -> list[dict[str, Any]]:
    con = await asyncpg.connect(PG_DSN, timeout=3)
    try:
        return [dict(r) for r in await con.fetch(f'SELECT * FROM "{schema}".{table} ORDER BY ts')]
    finally:
        await con.close()


class TcpForwarder:
    """A loopback TCP proxy to PostgreSQL that the test can cut (closing every connection) and restore."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpForwarder:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def cut(self) -> None:
        """PostgreSQL becomes unreachable: refuse new connections and break the open ones."""
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def restore(self) -> None:
        await self.start()              # same port again

    def dsn(self) -> str:
        user = PG_DSN.split("//", 1)[1].split("@", 1)[0]
        database = PG_DSN.rsplit("/", 1)[1]
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"


async def send(url: str, *, stream: bool = False, abandon: bool = False) -> int:
    """One chat request; *abandon*: read the first stream chunk, then drop the connection."""
    body = {"model": "chat", "messages": MESSAGES, "stream": stream}
    async with aiohttp.ClientSession() as s:
        resp = await s.post(url + "/v1/chat/completions", json=body,
                            headers={"Authorization": f"Bearer {TEST_KEY}"})
        if abandon:
            await resp.content.readany()
            resp.close()                # the connection goes away mid-stream
            return resp.status
        await resp.read()
        return resp.status


async def mixed_traffic(url: str, n: int = 100) -> int:
    """*n* concurrent requests: 60% JSON, 40% streams of which half are abandoned. Returns abandoned count."""
    kinds = [("json", False, False)] * (n * 6 // 10)
    kinds += [("stream", True, False), ("abandon", True, True)] * ((n - len(kinds)) // 2)
    kinds += [("json", False, False)] * (n - len(kinds))
    await asyncio.gather(*(send(url, stream=st, abandon=ab) for _, st, ab in kinds))
    return sum(1 for k in kinds if k[0] == "abandon")


async def eventually(check: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(interval)
