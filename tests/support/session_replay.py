"""Recorded agent sessions (tests/fixtures/clients/captures) replayed through a gateway whose every
model name goes to one Anthropic model on :class:`~support.fake_prompt_cache.FakeAnthropicPrefixCache`,
with the endpoint's ``prompt_cache`` settings; what each session cost, from the ledger.

Used by tests/plugins/caching/test_session_replay.py and tests/bench/prompt_cache_replay.py.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from .behavior import Behavior, ToolCall
from .captures import load_capture
from .fake_prompt_cache import FakeAnthropicPrefixCache
from .gateway import TEST_KEY, run_gateway, settings_for

SESSIONS = ("claude-code", "codex", "gemini-cli")
MODEL = "claude-sonnet-4-5"
_DROP = {"host", "content-length", "connection", "transfer-encoding"}
_SECRETS = {"authorization", "x-api-key", "x-goog-api-key"}
#: a per-request value some agents put into their system prompt; injected to measure the stabiliser
NOISE = "Request-Id: {n:08x}-rg\n"
NOISE_PATTERN = r"Request-Id: [0-9a-f]+-rg\n"


@dataclass
class SessionCost:
    requests: int
    input_tokens: int          # cache reads included
    cache_read: int
    cache_write: int
    cost_usd: float


def _headers(captured: list[list[str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in captured:
        low = name.lower()
        if low in _DROP:
            continue
        if low in _SECRETS and "<masked" in value:
            value = f"Bearer {TEST_KEY}" if low == "authorization" else TEST_KEY
        out.append((name, value))
    return out


def _with_noise(body: dict[str, Any], n: int) -> dict[str, Any]:
    """The request with a per-request line at the head of its system prompt (where agents put it)."""
    body = json.loads(json.dumps(body))
    line = NOISE.format(n=n * 7919)
    if isinstance(body.get("system"), list) and body["system"]:
        body["system"][0]["text"] = line + body["system"][0]["text"]
    elif isinstance(body.get("systemInstruction"), dict):
        body["systemInstruction"]["parts"][0]["text"] = line + body["systemInstruction"]["parts"][0]["text"]
    elif isinstance(body.get("input"), list):
        first = next(i for i in body["input"] if i.get("role") in ("developer", "system"))
        content = first["content"]
        if isinstance(content, str):
            first["content"] = line + content
        else:
            content[0]["text"] = line + content[0]["text"]
    return body


def _strip_message_marks(messages: list[Any]) -> None:
    for m in messages:
        for b in m.get("content") if isinstance(m.get("content"), list) else []:
            if isinstance(b, dict):
                b.pop("cache_control", None)


def follow_up(entry: dict[str, Any], turn: int) -> dict[str, Any]:
    """The session's last request continued by *turn* more exchanges (the agent's next turns:
    its prefix grows by the model's answer and a new user message each time), in its own format."""
    body = json.loads(json.dumps(entry["body"]))
    path = entry["path"]
    for i in range(1, turn + 1):
        answer, ask = f"Step {i} is done; the tests pass.", f"Go on with step {i + 1}."
        if path.startswith("/anthropic/"):
            marked = any("cache_control" in b for m in body["messages"] if isinstance(m.get("content"), list)
                         for b in m["content"])
            _strip_message_marks(body["messages"])
            body["messages"] += [{"role": "assistant", "content": [{"type": "text", "text": answer}]},
                                 {"role": "user", "content": [{"type": "text", "text": ask}]}]
            if marked:                         # Claude Code moves its marker to the newest turn
                body["messages"][-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
        elif path.startswith("/openai/"):
            body["input"] += [
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": ask}]}]
        else:
            body["contents"] += [{"role": "model", "parts": [{"text": answer}]},
                                 {"role": "user", "parts": [{"text": ask}]}]
    return {**entry, "body": body}


def config(fake_url: str, ledger: str, prompt_cache: dict[str, Any] | None) -> Any:
    endpoint: dict[str, Any] = {"served_models": [{"name": "sonnet", "provider": "anthropic", "model": MODEL}],
                                "unsupported_params": "agents"}
    if prompt_cache is not None:
        endpoint["prompt_cache"] = prompt_cache
    return settings_for({
        "providers": {"anthropic": {"type": "anthropic", "base_url": fake_url, "api_key": "sk-ant-up"}},
        "endpoints": {"sonnet": endpoint},
        "aliases": {"claude-*": "sonnet", "gpt-*": "sonnet", "gemini-*": "sonnet"},
        "keys": [{"name": "alice", "key": TEST_KEY, "owner": "alice"}],
    }, ledger_path=ledger)


async def replay(session: str, ledger: str, prompt_cache: dict[str, Any] | None, *,
                 noise: bool = False, extra_turns: int = 0) -> SessionCost:
    """Replay one recorded session on a fresh prefix cache, then *extra_turns* follow-up turns
    (:func:`follow_up`); its totals from the ledger."""
    async with FakeAnthropicPrefixCache() as fake, run_gateway(config(fake.base_url, ledger, prompt_cache)) as gw:
        async with aiohttp.ClientSession() as http:
            posts = [e for e in load_capture(session) if e["method"] == "POST"]
            posts += [follow_up(posts[-1], i) for i in range(1, extra_turns + 1)]
            for n, entry in enumerate(posts):
                reply = entry.get("response") or {}
                calls = [ToolCall(c["name"], c.get("arguments") or {}) for c in reply.get("tool_calls") or []]
                fake.script(Behavior(text=reply.get("text") or "ok", tool_calls=calls or None))
                body = _with_noise(entry["body"], n) if noise else entry["body"]
                async with http.post(gw.url + entry["path"], params=entry.get("query") or None, json=body,
                                     headers=_headers(entry["headers"])) as r:
                    text = await r.read()
                    assert r.status == 200, (session, r.status, text[:300])
        rows = await gw.ledger_rows()
    return SessionCost(len(rows), sum(r["input_tokens"] for r in rows), sum(r["cached_input_tokens"] for r in rows),
                       sum(r["cache_creation_tokens"] for r in rows), sum(r["cost_usd"] for r in rows))


SETTINGS: dict[str, tuple[dict[str, Any] | None, bool]] = {
    "off": (None, False),
    "auto breakpoints": ({"auto_breakpoints": True}, False),
    "noise, off": (None, True),
    "noise, auto breakpoints": ({"auto_breakpoints": True}, True),
    "noise, auto breakpoints + stabilizer": ({"auto_breakpoints": True, "stabilize": [NOISE_PATTERN]}, True),
}
assert re.compile(NOISE_PATTERN).search(NOISE.format(n=1))
