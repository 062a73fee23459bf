"""Shared pieces of the coding-agent tests: a gateway config with the three native providers
and agent-style aliases, the captured agent traffic, and the protocol checks each agent needs."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from support.behavior import Behavior, ToolCall
from support.gateway import TEST_KEY
from support.specs import (
    parse_sse,
    validate_anthropic_stream,
    validate_gemini,
    validate_gemini_sse,
    validate_openai_chat_stream,
    validate_responses_stream,
)

#: capture file -> the agent kind the gateway must attribute it to
AGENT_CAPTURES = {
    "claude-code": "claude_code", "codex": "codex", "gemini-cli": "gemini_cli",
    "opencode-anthropic": "opencode", "opencode-openai": "opencode", "opencode-google": "opencode",
    "opencode-mlflow": "opencode",
}
#: hop-by-hop and length headers the HTTP client sets itself
DROP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}
SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key"}


def agent_config(fakes: dict[str, str], *, keys: list[dict[str, Any]] | None = None,
                 **extra: Any) -> dict[str, Any]:
    """Providers for the fakes (``{"openai": url, "anthropic": url, "gemini": url}``), one endpoint each,
    and the aliases an administrator would set for the agents' model names."""
    providers = {
        "openai": {"type": "openai", "base_url": fakes["openai"], "api_key": "sk-upstream-secret"},
        "anthropic": {"type": "anthropic", "base_url": fakes["anthropic"], "api_key": "sk-ant-upstream"},
        "gemini": {"type": "gemini", "base_url": fakes["gemini"], "api_key": "gm-upstream"},
    }
    price = {"input": 1.0, "output": 2.0}
    config: dict[str, Any] = {
        "providers": providers,
        "endpoints": {
            "anthropic-sonnet": {"served_models": [
                {"name": "sonnet", "provider": "anthropic", "model": "claude-sonnet-4-6", "prices": price}]},
            "openai-gpt": {"served_models": [
                {"name": "gpt", "provider": "openai", "model": "gpt-5.5", "prices": price}]},
            "gemini-flash": {"served_models": [
                {"name": "flash", "provider": "gemini", "model": "gemini-2.5-flash", "prices": price}]},
        },
        "aliases": {"claude-*": "anthropic-sonnet", "gpt-*": "openai-gpt", "gemini-*": "gemini-flash"},
        "keys": keys if keys is not None else [
            {"name": "alice-laptop", "key": TEST_KEY, "owner": "alice", "team": "dev"}],
    }
    config.update(extra)
    return config


def replay_headers(captured: list[list[str]], key: str = TEST_KEY) -> list[tuple[str, str]]:
    """The captured headers in order, with every masked secret replaced by *key*."""
    out = []
    for name, value in captured:
        low = name.lower()
        if low in DROP_HEADERS:
            continue
        if low in SECRET_HEADERS and "<masked" in value:
            value = f"Bearer {key}" if low == "authorization" else key
        out.append((name, value))
    return out


def behavior_for(entry: dict[str, Any]) -> Behavior:
    """What the fake upstream answers, from the capture's summary of the real reply."""
    reply = entry.get("response") or {}
    calls = [ToolCall(c["name"], c.get("arguments") or {}) for c in reply.get("tool_calls") or []]
    return Behavior(text=reply.get("text"), tool_calls=calls or None,
                    reasoning="Thinking about it." if reply.get("thinking") else None)


async def send(session: aiohttp.ClientSession, base: str, entry: dict[str, Any],
               key: str = TEST_KEY) -> tuple[int, dict[str, str], bytes]:
    """Send one captured request to the gateway as the agent sent it."""
    data = json.dumps(entry["body"]).encode() if entry.get("body") is not None else None
    async with session.request(entry["method"], base + entry["path"], params=entry.get("query") or None,
                               headers=replay_headers(entry["headers"], key), data=data,
                               auto_decompress=True) as r:
        return r.status, dict(r.headers), await r.read()


def check_reply(entry: dict[str, Any], status: int, headers: dict[str, str], body: bytes) -> None:
    """Assert the reply is what the agent's protocol needs (tests/fixtures/clients/README.md)."""
    path, want = entry["path"], entry.get("response") or {}
    if entry["method"] == "HEAD":
        assert status < 500, status
        return
    assert status == 200, (status, body[:500])
    calls = [c["name"] for c in want.get("tool_calls") or []]
    stream = (entry.get("body") or {}).get("stream") is True or ":streamGenerateContent" in path
    if stream:
        assert headers.get("Content-Type", "").startswith("text/event-stream"), headers
        assert "Content-Encoding" not in headers, "SSE must not be compressed"
    if path.endswith("/v1/messages"):
        _check_anthropic(body, calls)
    elif path.endswith("/responses"):
        _check_responses(body, calls)
    elif path.endswith("/chat/completions"):
        _check_chat(body, calls)
    elif ":streamGenerateContent" in path:
        _check_gemini(validate_gemini_sse(body), calls)
    elif ":generateContent" in path:
        chunk = validate_gemini("GenerateContentResponse", json.loads(body))
        _check_gemini([chunk], calls)
        text = "".join(p.get("text", "") for p in chunk["candidates"][0]["content"]["parts"] if not p.get("thought"))
        if want.get("rule") == "json_output":
            json.loads(text)                  # the router call needs valid JSON text
    else:
        raise AssertionError(f"unexpected captured path {path}")


def _check_anthropic(body: bytes, calls: list[str]) -> None:
    events = validate_anthropic_stream(body)
    start = events[0]["message"]
    assert start["id"].startswith("msg_") and start["usage"]["input_tokens"] >= 0
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["usage"]["output_tokens"] > 0, "opencode and the SDK need usage in message_delta"
    assert delta["delta"]["stop_reason"] == ("tool_use" if calls else "end_turn")
    used = [e["content_block"]["name"] for e in events
            if e["type"] == "content_block_start" and e["content_block"]["type"] == "tool_use"]
    assert used == calls
    assert [ev for ev, _ in parse_sse(body)][-1] == "message_stop"


def _check_responses(body: bytes, calls: list[str]) -> None:
    events = validate_responses_stream(body)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [i["name"] for i in done if i["type"] == "function_call"] == calls
    if not calls:
        assert any(i["type"] == "message" for i in done), "the final text travels in output_item.done"
    completed = events[-1]
    assert completed["type"] == "response.completed", "Codex needs response.completed"
    assert completed["response"]["usage"]["total_tokens"] > 0, "opencode hangs without usage"
    ids = {e["response"]["id"] for e in events if "response" in e}
    assert len(ids) == 1 and next(iter(ids)).startswith("resp_"), ids


def _check_chat(body: bytes, calls: list[str]) -> None:
    chunks = validate_openai_chat_stream(body)
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finish == ["tool_calls" if calls else "stop"], finish
    names = [tc["function"]["name"] for c in chunks if c["choices"]
             for tc in c["choices"][0]["delta"].get("tool_calls") or [] if tc.get("function", {}).get("name")]
    assert names == calls
    assert chunks[-1]["usage"]["total_tokens"] > 0, "stream_options.include_usage asks for a usage chunk"


def _check_gemini(chunks: list[dict[str, Any]], calls: list[str]) -> None:
    parts = [p for c in chunks for cand in c.get("candidates", []) for p in cand.get("content", {}).get("parts", [])]
    assert [p["functionCall"]["name"] for p in parts if "functionCall" in p] == calls
    finish = [cand["finishReason"] for c in chunks for cand in c.get("candidates", []) if cand.get("finishReason")]
    assert finish and finish[-1] == "STOP", finish
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] > 0
