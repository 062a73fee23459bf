"""What every converter shares: options, honest gaps, the carrier codec, effort tables.

The *pivot* between formats is OpenAI Chat Completions plus three extension
fields that carry what chat cannot say, so they survive a trip through a
chat-speaking client and come back unchanged on the next turn:

- ``reasoning_content`` (assistant message / stream delta): the thinking text;
- ``thinking_blocks`` (assistant message / stream delta): Anthropic thinking
  and redacted_thinking blocks with their ``signature`` / ``data``, verbatim;
- ``extra_content.google.thought_signature`` (on a tool call, or on the
  message): Gemini thought signatures (the field Google's own OpenAI
  compatibility layer uses).

Clients that have no place for these (Anthropic thinking signatures seen by a
Responses client, Gemini signatures seen by an Anthropic client) get them
packed into the field that client does replay verbatim (``encrypted_content``,
``signature``, ``thoughtSignature``) with :func:`carry` / :func:`uncarry`.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from proxy.exchange import TranslateOptions

CARRY_MAGIC = b"RGC1"
CARRY_PREFIX = base64.b64encode(CARRY_MAGIC + b"{").decode()[:4]   # "UkdD": cheap pre-check
OPENAI_KINDS = ("openai", "azure_openai")


#: the per-request options every converter takes (defined in the core: the relay builds it)
Options = TranslateOptions


@dataclass(frozen=True, slots=True)
class BackendFns:
    """A provider format seen from the pivot, made of its converter functions."""

    request_from_chat: Callable[[dict[str, Any], str, Options], dict[str, Any]]
    response_to_chat: Callable[[dict[str, Any], str], dict[str, Any]]
    error_to_chat: Callable[[int, bytes], tuple[int, dict[str, Any]]]
    stream: Callable[[str], Any]                 # model -> a parser of the provider's stream


@dataclass(frozen=True, slots=True)
class ClientFns:
    """A client format seen from the pivot, made of its converter functions."""

    request_to_chat: Callable[[dict[str, Any], Options], dict[str, Any]]
    response_from_chat: Callable[[dict[str, Any], str, dict[str, Any]], dict[str, Any]]
    error_from_chat: Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]]]
    stream: Callable[[str, dict[str, Any]], Any]  # (model, request) -> an emitter of the client's stream


def carry(payload: dict[str, Any]) -> str:
    """Pack *payload* into an opaque string a client replays verbatim.

    Plain base64 (magic ``RGC1`` + JSON), since some fields must be base64
    (Gemini ``thoughtSignature`` is bytes).
    """
    return base64.b64encode(CARRY_MAGIC + orjson.dumps(payload)).decode()


def uncarry(value: Any) -> dict[str, Any] | None:
    """The payload of a :func:`carry` string, or None for anything else (a real provider signature)."""
    if not isinstance(value, str) or not value.startswith(CARRY_PREFIX):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
        obj = orjson.loads(raw[len(CARRY_MAGIC):]) if raw.startswith(CARRY_MAGIC) else None
    except (binascii.Error, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def new_id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


def now() -> int:
    return int(time.time())


def loads_object(text: Any) -> dict[str, Any]:
    """Tool arguments: a JSON object string -> dict (``{}`` for empty); anything else kept under ``_raw``."""
    if isinstance(text, dict):
        return text
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_raw": text}


def dumps(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"_raw"} and isinstance(value["_raw"], str):
        return value["_raw"]
    return orjson.dumps(value).decode()


def parse_data_uri(url: str) -> tuple[str, str] | None:
    """``data:<mime>;base64,<data>`` -> (mime, data)."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return head[:-7] or "application/octet-stream", data


def data_uri(mime: str, data: str) -> str:
    return f"data:{mime};base64,{data}"


_EXT_MIME = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
             "webp": "image/webp", "pdf": "application/pdf", "heic": "image/heic"}


def mime_from_url(url: str, default: str = "image/jpeg") -> str:
    ext = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    return _EXT_MIME.get(ext, default)


# Reasoning effort <-> thinking budget (tokens). Budgets follow Anthropic's
# documented minimum (1024) and Google's 2.5 defaults.
EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}


def budget_to_effort(budget: int) -> str:
    if budget <= 0:
        return "none"
    for effort in ("minimal", "low", "medium", "high"):
        if budget <= EFFORT_BUDGET[effort]:
            return effort
    return "xhigh"


def text_of(content: Any) -> str:
    """The text of a chat content (string or list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") in
                   ("text", "input_text", "output_text"))


def chat_usage(prompt: int, completion: int, *, cached: int = 0, reasoning: int = 0,
               total: int | None = None) -> dict[str, Any]:
    """An OpenAI chat ``usage`` object (prompt includes cached, completion includes reasoning)."""
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": total if total else prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning}}


def parse_error_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def gemini_signatures(msg: dict[str, Any]) -> dict[str, Any]:
    """The Gemini thought signatures a pivot assistant message carries (``gsig`` per tool-call
    id, ``msig`` for the message), ready to be packed with :func:`carry`."""
    payload: dict[str, Any] = {}
    gsig = {tc.get("id"): (tc.get("extra_content") or {}).get("google", {}).get("thought_signature")
            for tc in msg.get("tool_calls") or []}
    gsig = {k: v for k, v in gsig.items() if k and v}
    if gsig:
        payload["gsig"] = gsig
    msig = (msg.get("extra_content") or {}).get("google", {}).get("thought_signature")
    if msig:
        payload["msig"] = msig
    return payload
