"""Automatic Anthropic cache breakpoints for a Messages body that has none. Pure functions.

Anthropic caches the prefix (tools, then system, then messages) up to each block marked
``cache_control``, and reads the longest cached prefix back on the next request. An agent
that marks nothing pays full price for its whole history every turn. Marked here, in
order of stability: the last tool, the last system block, the end of the previous turn
(what the last request wrote) and the end of the last turn (what the next request reads),
never more than Anthropic's limit of four, and never when the client marked anything itself.
"""

from __future__ import annotations

import copy
from typing import Any

from plugins.anthropic.cache_marks import MAX_BREAKPOINTS, count_marks

#: block types Anthropic accepts a breakpoint on (not thinking blocks, not empty text)
MARKABLE = frozenset({"text", "image", "document", "tool_use", "tool_result", "search_result"})


def _last_markable(blocks: list[Any]) -> dict[str, Any] | None:
    for block in reversed(blocks):
        if isinstance(block, dict) and block.get("type") in MARKABLE and (block.get("type") != "text"
                                                                           or block.get("text")):
            return block
    return None


def _message_blocks(message: dict[str, Any]) -> list[Any]:
    """The message's blocks, turning a string content into one text block (so it can be marked)."""
    content = message.get("content")
    if isinstance(content, str):
        message["content"] = [{"type": "text", "text": content}] if content else []
    return message["content"] if isinstance(message.get("content"), list) else []


def add_breakpoints(body: dict[str, Any], ttl: str = "5m") -> dict[str, Any] | None:
    """*body* with breakpoints added, or None when it has its own or nothing can be marked."""
    if count_marks(body):
        return None
    out = copy.deepcopy(body)
    mark: dict[str, Any] = {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}
    targets: list[dict[str, Any]] = []
    tools = [t for t in out.get("tools") or [] if isinstance(t, dict)]
    if tools:
        targets.append(tools[-1])
    system = out.get("system")
    if isinstance(system, str) and system:
        out["system"] = system = [{"type": "text", "text": system}]
    if isinstance(system, list) and (block := _last_markable(system)) is not None:
        targets.append(block)
    messages = [m for m in out.get("messages") or [] if isinstance(m, dict)]
    user_turns = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    ends = [len(messages) - 1] if messages else []
    if len(user_turns) > 1:
        ends.insert(0, user_turns[-2])          # the previous turn: the prefix the last request cached
    for i in ends:
        block = _last_markable(_message_blocks(messages[i]))
        if block is not None:
            targets.append(block)
    if not targets:
        return None
    for block in targets[-MAX_BREAKPOINTS:] if len(targets) > MAX_BREAKPOINTS else targets:
        block["cache_control"] = dict(mark)
    return out
