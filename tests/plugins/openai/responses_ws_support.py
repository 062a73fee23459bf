"""WebSocket-mode helpers: the official ``openai`` SDK's Responses WebSocket client
(``client.responses.connect()``) against the gateway, every frame validated with
``openresponses-types`` and parsed by the SDK too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import openai
from support.gateway import TEST_KEY
from support.open_responses import TERMINAL, final_response, validate_events, validate_response, validate_ws_error

FRAME_TIMEOUT = 15


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://", 1) + "/responses"


@dataclass
class Turn:
    """What one ``response.create`` got back: every frame, in order."""

    frames: list[dict[str, Any]]

    @property
    def error(self) -> dict[str, Any] | None:
        """The WebSocket ``error`` envelope the turn ended with (validated), or None."""
        last = self.frames[-1]
        return validate_ws_error(last) if last["type"] == "error" and "status" in last else None

    @property
    def events(self) -> list[dict[str, Any]]:
        """The turn's streaming events, validated one by one and as one stream."""
        assert self.error is None, f"the turn failed: {self.frames[-1]}"
        return validate_events(self.frames)

    @property
    def response(self) -> dict[str, Any]:
        return validate_response(final_response(self.events))


class Session:
    """One open socket."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def send_raw(self, text: str) -> None:
        await self.conn.send_raw(text)

    async def create(self, **body: Any) -> Turn:
        """A ``response.create`` through the SDK, and the frames up to its terminal event."""
        await self.conn.response.create(**body)
        return await self.read_turn()

    async def read_turn(self) -> Turn:
        frames: list[dict[str, Any]] = []
        while True:
            raw = await asyncio.wait_for(self.conn.recv_bytes(), FRAME_TIMEOUT)
            self.conn.parse_event(raw)                   # the SDK reads every frame
            frame = json.loads(raw)
            frames.append(frame)
            if frame["type"] in TERMINAL or (frame["type"] == "error" and "status" in frame):
                return Turn(frames)


@asynccontextmanager
async def connect(base: str, key: str = TEST_KEY, **headers: str) -> AsyncIterator[Session]:
    client = openai.AsyncOpenAI(base_url=base, api_key=key, max_retries=0)
    async with client.responses.connect(extra_headers=headers) as conn:
        yield Session(conn)
