"""Every client stream surface over real sockets, and how to read what the client received.

Helpers for the stream integrity and shutdown tests: a gateway with one endpoint
per fake provider, one request per client surface, and a parser that turns a
client stream into events, failing on half or non-JSON events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from support.gateway import TEST_KEY

#: endpoint name -> the fake provider behind it
ENDPOINTS = {"m-openai": "openai", "m-anthropic": "anthropic", "m-gemini": "gemini"}
HEADERS = {"Authorization": f"Bearer {TEST_KEY}"}


def surfaces_config(fakes: dict[str, Any], server: dict[str, Any] | None = None,
                    timeouts: dict[str, Any] | None = None) -> dict[str, Any]:
    config = {
        "server": server or {},
        "providers": {
            "oai": {"type": "openai", "base_url": fakes["openai"].base_url, "api_key": "sk-up"},
            "ant": {"type": "anthropic", "base_url": fakes["anthropic"].base_url, "api_key": "sk-ant-up"},
            "gem": {"type": "gemini", "base_url": fakes["gemini"].base_url, "api_key": "g-up"},
        },
        "endpoints": {
            "m-openai": {"served_models": [{"name": "gpt", "provider": "oai", "model": "gpt-4o-mini"}]},
            "m-anthropic": {"served_models": [{"name": "claude", "provider": "ant", "model": "claude-sonnet-4-6"}]},
            "m-gemini": {"served_models": [{"name": "gemini", "provider": "gem", "model": "gemini-2.5-flash"}]},
        },
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "alice"}],
    }
    for endpoint in config["endpoints"].values():
        endpoint["timeouts"] = timeouts or {}
    return config


def request_for(surface: str, endpoint: str) -> tuple[str, dict[str, Any]]:
    """(path, body) of a streamed request on *surface* to *endpoint*."""
    hi = [{"role": "user", "content": "Hi"}]
    if surface == "chat":
        return "/v1/chat/completions", {"model": endpoint, "messages": hi, "stream": True}
    if surface == "responses":
        return "/openai/v1/responses", {"model": endpoint, "input": "Hi", "stream": True}
    if surface == "anthropic":
        return "/anthropic/v1/messages", {"model": endpoint, "max_tokens": 16, "messages": hi, "stream": True}
    alt = "?alt=sse" if surface == "gemini_sse" else ""
    return (f"/gemini/v1beta/models/{endpoint}:streamGenerateContent{alt}",
            {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})


async def stream_request(url: str, surface: str, endpoint: str) -> tuple[int, bytes]:
    path, body = request_for(surface, endpoint)
    async with aiohttp.ClientSession() as s, s.post(url + path, json=body, headers=HEADERS) as r:
        return r.status, await r.read()


@dataclass
class Event:
    name: str | None
    data: Any                   # parsed JSON, or the string "[DONE]"


def client_events(surface: str, body: bytes) -> list[Event]:
    """The events (or array elements) the client received; asserts each one is whole JSON."""
    if surface == "gemini_array":
        return [Event(None, e) for e in json.loads(body)]      # one well-formed array, or this raises
    text = body.decode()
    assert text.endswith(("\n\n", "\r\n\r\n")), f"the stream ends mid-event: {text[-80:]!r}"
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        raw = "\n".join(data)
        events.append(Event(name, raw if raw == "[DONE]" else json.loads(raw)))
    return events


def is_error(surface: str, e: Event) -> bool:
    if surface in ("responses", "anthropic"):
        return isinstance(e.data, dict) and e.data.get("type") in ("error", "response.failed")
    return isinstance(e.data, dict) and "error" in e.data


def is_success_end(surface: str, e: Event) -> bool:
    """The client format's terminator of a stream that completed."""
    d = e.data
    if surface == "chat":
        return d == "[DONE]"
    if surface == "responses":
        return isinstance(d, dict) and d.get("type") in ("response.completed", "response.incomplete")
    if surface == "anthropic":
        return isinstance(d, dict) and d.get("type") == "message_stop"
    return isinstance(d, dict) and any(c.get("finishReason") for c in d.get("candidates") or [])


def _type(e: Event) -> object:
    return e.data.get("type") if isinstance(e.data, dict) else None


def assert_one_terminal_error(surface: str, body: bytes) -> Event:
    """Exactly one terminal error, last; no success terminator; every event whole.

    Responses: the terminal error is ``response.failed``; Open Responses streams the ``error``
    event right before it ("any error incurred while streaming will be followed by a
    response.failed event"), so that pair counts as the one terminal error."""
    events = client_events(surface, body)
    if surface == "responses" and len(events) > 1 and [_type(e) for e in events[-2:]] == ["error", "response.failed"]:
        events = events[:-2] + events[-1:]
    errors = [e for e in events if is_error(surface, e)]
    assert len(errors) == 1 and events[-1] is errors[0], f"{surface}: {events[-3:]}"
    assert not any(is_success_end(surface, e) for e in events), f"{surface}: a success terminator"
    return errors[0]


def assert_completed(surface: str, body: bytes) -> None:
    events = client_events(surface, body)
    assert not any(is_error(surface, e) for e in events)
    ends = [e for e in events if is_success_end(surface, e)]
    assert ends, f"{surface}: no terminator in {events[-2:]}"
