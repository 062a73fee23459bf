"""Anthropic prompt-cache breakpoints (``cache_control``) carried from the chat pivot.

A chat-speaking client marks a breakpoint the way the reference's content items
and LiteLLM do: ``cache_control`` on a content part, on a whole message (its last
block), or on a tool (``tools[i]`` or ``tools[i].function``). The reference
spells it as a string (``"ephemeral"``); Anthropic takes ``{"type": "ephemeral"}``
with an optional ``ttl`` (``"5m"`` or ``"1h"``). Only those keys are sent on.
"""

from __future__ import annotations

from typing import Any

#: Anthropic refuses a request with more breakpoints than this
MAX_BREAKPOINTS = 4


def anthropic_mark(cc: Any) -> dict[str, Any] | None:
    """The Anthropic ``cache_control`` of a pivot marker, or None when there is none."""
    if isinstance(cc, str) and cc:
        return {"type": cc}
    if isinstance(cc, dict) and isinstance(cc.get("type"), str):
        mark: dict[str, Any] = {"type": cc["type"]}
        if isinstance(cc.get("ttl"), str):
            mark["ttl"] = cc["ttl"]
        return mark
    return None


def carry(source: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """*block* with *source*'s marker, if it has one."""
    mark = anthropic_mark(source.get("cache_control"))
    if mark is not None:
        block["cache_control"] = mark
    return block


def mark_last(blocks: list[dict[str, Any]], message: dict[str, Any]) -> None:
    """A marker on a whole message goes on its last block (where Anthropic's prefix ends)."""
    mark = anthropic_mark(message.get("cache_control"))
    if mark is not None and blocks and "cache_control" not in blocks[-1]:
        blocks[-1]["cache_control"] = mark


def tool_mark(tool: dict[str, Any]) -> dict[str, Any] | None:
    return anthropic_mark(tool.get("cache_control") or (tool.get("function") or {}).get("cache_control"))


def count_marks(body: dict[str, Any]) -> int:
    """Breakpoints an Anthropic Messages body already has (system, tools, message blocks)."""
    n = sum(1 for t in body.get("tools") or [] if isinstance(t, dict) and "cache_control" in t)
    system = body.get("system")
    if isinstance(system, list):
        n += sum(1 for b in system if isinstance(b, dict) and "cache_control" in b)
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            n += sum(1 for b in content if isinstance(b, dict) and "cache_control" in b)
    return n
