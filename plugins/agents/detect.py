"""Which coding agent sent a request, and which of its sessions (from what the real CLIs send).

See tests/fixtures/clients/captures: Claude Code sends ``User-Agent: claude-cli/…``, ``x-app: cli`` and
``X-Claude-Code-Session-Id`` (the session id is also in ``metadata.user_id``, a JSON string);
Codex sends ``originator: codex_exec`` and ``session-id``/``thread-id``; opencode sends
``User-Agent: opencode/…`` and ``x-session-id``. Gemini CLI sends no session id at all, so
its session is derived from the conversation's opening user text, which every call of one
conversation repeats.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

#: The bounded set of agent kinds (metric label values).
AGENT_KINDS: tuple[str, ...] = ("claude_code", "codex", "gemini_cli", "opencode", "sdk", "other")
CODING_AGENTS = frozenset(AGENT_KINDS[:4])
_SDK_MARKERS = ("openai/", "anthropic/", "google-genai-sdk", "google-api-", "litellm", "langchain", "python-httpx",
                "aiohttp", "node-fetch", "axios", "go-http-client", "okhttp", "python-requests")
_SAFE = re.compile(r"[^A-Za-z0-9._:@/+=-]")
MAX_SESSION_LEN = 128


@lru_cache(maxsize=512)
def _kind_by_user_agent(ua: str) -> str:
    """What the User-Agent alone says ("" for nothing); a client sends the same one every time."""
    low = ua.strip().lower()
    for prefix, kind in (("claude-cli/", "claude_code"), ("codex", "codex"), ("geminicli", "gemini_cli"),
                         ("opencode/", "opencode")):
        if low.startswith(prefix):
            return kind
    return "sdk" if any(m in low for m in _SDK_MARKERS) else ""


def agent_kind(headers: Mapping[str, str]) -> str:
    """One of :data:`AGENT_KINDS` for the request's headers."""
    by_ua = _kind_by_user_agent(headers.get("User-Agent") or "")
    if by_ua == "claude_code" or (headers.get("x-app") or "").lower() == "cli" \
            or "X-Claude-Code-Session-Id" in headers:
        return "claude_code"
    if by_ua == "codex" or (headers.get("originator") or "").lower().startswith("codex"):
        return "codex"
    if by_ua:                          # gemini_cli, opencode or sdk, in that order of the checks above
        return by_ua
    if "x-stainless-lang" in headers or "x-goog-api-client" in headers:
        return "sdk"
    return "other"


def clean_session(value: Any) -> str:
    """A session id safe for a ledger column: printable, bounded."""
    if not isinstance(value, str):
        return ""
    return _SAFE.sub("", value.strip())[:MAX_SESSION_LEN]


def claude_session_from_body(body: Mapping[str, Any] | None) -> str:
    """``metadata.user_id`` is a JSON string ``{"device_id","account_uuid","session_id"}``
    (older versions: ``user_<hash>_account_<uuid>_session_<uuid>``)."""
    meta = body.get("metadata") if isinstance(body, Mapping) else None
    user_id = meta.get("user_id") if isinstance(meta, Mapping) else None
    if not isinstance(user_id, str) or not user_id:
        return ""
    if user_id.startswith("{"):
        try:
            data = json.loads(user_id)
        except ValueError:
            return ""
        return clean_session(data.get("session_id")) if isinstance(data, dict) else ""
    _, sep, tail = user_id.rpartition("_session_")
    return clean_session(tail) if sep else ""


def _opening_user_text(body: Mapping[str, Any]) -> str:
    """The user text before the first model turn of a Gemini conversation."""
    texts: list[str] = []
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else []:
        if not isinstance(content, dict) or content.get("role", "user") != "user":
            break
        for part in content.get("parts") or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return "\n".join(texts)


def gemini_derived_session(body: Mapping[str, Any] | None, key_id: str) -> str:
    if not isinstance(body, Mapping):
        return ""
    opening = _opening_user_text(body)
    if not opening:
        return ""
    return "gcli-" + hashlib.sha256(f"{key_id}\0{opening}".encode()).hexdigest()[:20]


def session_id(kind: str, headers: Mapping[str, str], body: Mapping[str, Any] | None, key_id: str = "") -> str:
    """The agent's own session id, or "" when it sends none."""
    if kind == "claude_code":
        return clean_session(headers.get("X-Claude-Code-Session-Id")) or claude_session_from_body(body)
    if kind == "codex":
        found = clean_session(headers.get("session-id")) or clean_session(headers.get("thread-id"))
        if not found and headers.get("x-codex-turn-metadata"):
            try:
                found = clean_session(json.loads(headers["x-codex-turn-metadata"]).get("session_id"))
            except (ValueError, AttributeError):
                found = ""
        return found
    if kind == "gemini_cli":
        return gemini_derived_session(body, key_id)
    # opencode, and any other client that names its session the common way
    return clean_session(headers.get("x-session-id"))
