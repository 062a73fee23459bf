"""OpenAI's deprecated ``functions`` / ``function_call`` in terms of ``tools`` / ``tool_calls``.

Vertex AI's chat reference keeps both "for backward compatibility", so a client that
sends them to a Claude or Gemini model must see them honoured: requests become
tools before translation, and the answer goes back in the shape the client used
(``message.function_call``, ``finish_reason: "function_call"``, and the same in
stream deltas). Pure functions; an OpenAI provider gets the fields as they came.
"""

from __future__ import annotations

from typing import Any


def uses_functions(body: dict[str, Any]) -> bool:
    return bool(body.get("functions")) and not body.get("tools")


def _call_id(turn: int, name: str) -> str:
    return f"call_fn_{turn}_{name}"[:64]


def modernize(body: dict[str, Any]) -> dict[str, Any]:
    """A chat body whose legacy function fields are tools, tool calls and tool messages."""
    out = dict(body)
    functions = out.pop("functions", None)
    choice = out.pop("function_call", None)
    if functions and not out.get("tools"):
        out["tools"] = [{"type": "function", "function": f} for f in functions]
    if choice is not None and out.get("tool_choice") is None:
        out["tool_choice"] = ({"type": "function", "function": {"name": choice.get("name", "")}}
                              if isinstance(choice, dict) else choice)
    messages: list[dict[str, Any]] = []
    last_id = ""
    for turn, m in enumerate(out.get("messages") or []):
        call = m.get("function_call") if m.get("role") == "assistant" else None
        if isinstance(call, dict) and not m.get("tool_calls"):
            last_id = _call_id(turn, str(call.get("name", "")))
            m = {k: v for k, v in m.items() if k != "function_call"}
            m["tool_calls"] = [{"id": last_id, "type": "function",
                                "function": {"name": call.get("name", ""), "arguments": call.get("arguments") or "{}"}}]
        elif m.get("role") == "function":
            m = {"role": "tool", "tool_call_id": last_id or _call_id(turn, str(m.get("name", ""))),
                 "content": m.get("content") or ""}
        messages.append(m)
    if "messages" in out:
        out["messages"] = messages
    return out


def legacy_message(message: dict[str, Any]) -> dict[str, Any]:
    """An answer's message with its first tool call as ``function_call`` (the legacy shape)."""
    calls = message.get("tool_calls") or []
    if not calls:
        return message
    out = {k: v for k, v in message.items() if k != "tool_calls"}
    fn = calls[0].get("function") or {}
    out["function_call"] = {"name": fn.get("name", ""), "arguments": fn.get("arguments", "")}
    return out


def legacy_choice(choice: dict[str, Any]) -> dict[str, Any]:
    """A response or stream choice in the legacy shape."""
    out = dict(choice)
    if isinstance(out.get("message"), dict):
        out["message"] = legacy_message(out["message"])
    delta = out.get("delta")
    if isinstance(delta, dict) and delta.get("tool_calls"):
        first = [t for t in delta["tool_calls"] if t.get("index", 0) == 0]
        out["delta"] = {k: v for k, v in delta.items() if k != "tool_calls"}
        if first:
            fn = first[0].get("function") or {}
            out["delta"]["function_call"] = {k: fn[k] for k in ("name", "arguments") if k in fn}
    if out.get("finish_reason") == "tool_calls":
        out["finish_reason"] = "function_call"
    return out
