"""Which requests the response cache may answer, and the key an answer is stored under. Pure functions.

By default only requests that ask for *one* answer are cached: an explicit
temperature of 0, one candidate (``n`` / ``candidateCount``), and no tool turns in
the history (an agent's tool loop depends on the world, not only on the prompt).
The key covers the whole request body (model, messages, tools, every sampling
parameter: canonical JSON with sorted keys), the client's wire format and stream
framing, the served model and provider model, and the tenant.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

#: content items and message fields that make a turn a tool turn, in any wire format
TOOL_TURN_TYPES = frozenset({"tool_use", "tool_result", "function_call", "function_call_output", "custom_tool_call",
                             "custom_tool_call_output", "server_tool_use", "web_search_tool_result",
                             "mcp_call", "computer_call", "computer_call_output", "local_shell_call"})
TOOL_TURN_KEYS = ("tool_calls", "functionCall", "functionResponse", "tool_call_id")
HISTORY_FIELDS = ("messages", "input", "contents")


def _has_tool_turn(value: Any, depth: int = 0) -> bool:
    if depth > 6:
        return False
    if isinstance(value, list):
        return any(_has_tool_turn(v, depth + 1) for v in value)
    if not isinstance(value, dict):
        return False
    if value.get("type") in TOOL_TURN_TYPES or value.get("role") in ("tool", "function"):
        return True
    if any(value.get(k) for k in TOOL_TURN_KEYS):
        return True
    return any(_has_tool_turn(value.get(k), depth + 1) for k in ("content", "parts"))


def answers_wanted(body: dict[str, Any]) -> int:
    gc = body.get("generationConfig")
    n = body.get("n") or (gc.get("candidateCount") if isinstance(gc, dict) else None) or 1
    return n if isinstance(n, int) else 1


def temperature(body: dict[str, Any]) -> Any:
    if "temperature" in body:
        return body["temperature"]
    gc = body.get("generationConfig")
    return gc.get("temperature") if isinstance(gc, dict) else None


def why_not_cacheable(body: dict[str, Any], *, deterministic_only: bool, forced: bool) -> str:
    """"" when the request may be answered from the cache, else why not (for logs and tests)."""
    if answers_wanted(body) > 1:
        return "n > 1"
    if forced or not deterministic_only:
        return ""
    if temperature(body) != 0:
        return "temperature is not 0"
    if body.get("previous_response_id") or body.get("conversation"):
        return "continues stored state"
    if any(_has_tool_turn(body.get(f)) for f in HISTORY_FIELDS):
        return "has tool turns"
    return ""


def cache_key(body: dict[str, Any], *, tenant: str, api: str, endpoint: str, served_model: str, provider: str,
              provider_model: str, stream: bool, json_array: bool, path_params: dict[str, str]) -> str:
    """The key of one request's answer: equal requests of one tenant to one model, and only they."""
    canonical = orjson.dumps({"body": body, "tenant": tenant, "api": api, "endpoint": endpoint,
                              "served": served_model, "provider": provider, "model": provider_model,
                              "stream": stream, "json_array": json_array, "path": path_params},
                             option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
