"""Moving per-request noise out of the cached prefix. Pure functions.

A provider caches a prompt's *prefix*: one value in the system prompt that changes on
every request (a request hash, the current time) makes every later token uncached. The
configured patterns find such values in the system prompt; each match is cut out there and
appended to the end of the last user turn instead, so the model still sees it, after the
part that is cached. Per provider format: Anthropic ``system``, OpenAI chat ``system`` /
``developer`` messages, Responses ``instructions`` and system/developer input items,
Gemini ``systemInstruction``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

NOTE = "Per-request context (moved out of the system prompt by the gateway):\n"


def _cut(text: str, patterns: list[re.Pattern[str]], moved: list[str]) -> str:
    for pattern in patterns:
        moved.extend(m.group(0) for m in pattern.finditer(text))
        text = pattern.sub("", text)
    return text


def _cut_parts(parts: Any, key: str, patterns: list[re.Pattern[str]], moved: list[str]) -> None:
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict) and isinstance(part.get(key), str):
            part[key] = _cut(part[key], patterns, moved)


def _system_roles(messages: list[Any], patterns: list[re.Pattern[str]], moved: list[str]) -> None:
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "developer"):
            continue
        if isinstance(m.get("content"), str):
            m["content"] = _cut(m["content"], patterns, moved)
        else:
            _cut_parts(m.get("content"), "text", patterns, moved)


def _append(body: dict[str, Any], api: str, note: str) -> bool:
    """Add *note* at the end of the last user turn; False when there is none."""
    if api.startswith("gemini"):
        turns = [c for c in body.get("contents") or [] if isinstance(c, dict) and c.get("role", "user") == "user"]
        if not turns:
            return False
        turns[-1].setdefault("parts", []).append({"text": note})
        return True
    key = "input" if api == "openai.responses" else "messages"
    items = body.get(key)
    if api == "openai.responses" and isinstance(items, str):
        body["input"] = items + "\n\n" + note
        return True
    turns = [m for m in items or [] if isinstance(m, dict) and m.get("role") == "user"]
    if not turns:
        return False
    last = turns[-1]
    text_type = "input_text" if api == "openai.responses" else "text"
    if isinstance(last.get("content"), str):
        last["content"] = last["content"] + "\n\n" + note
    elif isinstance(last.get("content"), list):
        last["content"].append({"type": text_type, "text": note})
    else:
        return False
    return True


def stabilize(body: dict[str, Any], api: str, patterns: list[str]) -> dict[str, Any] | None:
    """*body* (in format *api*) with the noise moved, or None when no pattern matched."""
    compiled = [re.compile(p) for p in patterns]
    out = copy.deepcopy(body)
    moved: list[str] = []
    if api.startswith("anthropic"):
        if isinstance(out.get("system"), str):
            out["system"] = _cut(out["system"], compiled, moved)
        else:
            _cut_parts(out.get("system"), "text", compiled, moved)
    elif api.startswith("gemini"):
        si = out.get("systemInstruction") or out.get("system_instruction")
        _cut_parts(si.get("parts") if isinstance(si, dict) else None, "text", compiled, moved)
    elif api == "openai.responses":
        if isinstance(out.get("instructions"), str):
            out["instructions"] = _cut(out["instructions"], compiled, moved)
        items = out.get("input")
        _system_roles(items if isinstance(items, list) else [], compiled, moved)
    else:
        _system_roles(out.get("messages") or [], compiled, moved)
    if not moved or not _append(out, api, NOTE + "\n".join(moved)):
        return None                       # nothing matched, or nowhere to put it: leave the body alone
    return out
