"""OpenAI Chat Completions as a client side and as a backend side of a pair.

As a client the pivot *is* its format: requests pass through, responses keep
the pivot's extension fields (they are what the client replays next turn).
As a backend the extension fields are stripped (OpenAI rejects unknown
message fields) and the few parameters that differ by server kind are fixed.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from plugins.openai.chat_for_openai import fit_for_openai
from plugins.openai.errors import openai_error
from plugins.openai import legacy_functions
from plugins.translate.pivot import (
    OPENAI_KINDS,
    Options,
    budget_to_effort,
    parse_error_body,
)
from proxy import sse
from proxy.exchange import SAMPLING

_MESSAGE_EXTENSIONS = ("thinking_blocks", "reasoning_content", "extra_content")


def google_thinking_budget(body: dict[str, Any]) -> int | None:
    """``extra_body.google.thinking_config.thinking_budget`` (Vertex's way to ask for thinking), if given."""
    extra = body.get("extra_body")
    google = extra.get("google") if isinstance(extra, dict) else None
    config = google.get("thinking_config") if isinstance(google, dict) else None
    budget = config.get("thinking_budget") if isinstance(config, dict) else None
    return budget if isinstance(budget, int) and not isinstance(budget, bool) and budget >= 0 else None


def usage_chunk(chunk: dict[str, Any]) -> bool:
    return not chunk.get("choices") and chunk.get("usage") is not None


class ChatClient:
    def request_to_chat(self, body: dict[str, Any], opts: Options) -> dict[str, Any]:
        chat = copy.deepcopy(legacy_functions.modernize(body) if body.get("functions") or body.get("function_call")
                             or any(isinstance(m, dict) and (m.get("role") == "function" or m.get("function_call"))
                                    for m in body.get("messages") or []) else body)
        budget = google_thinking_budget(chat)
        if budget is not None and chat.get("reasoning_effort") is None:
            chat["reasoning_effort"] = budget_to_effort(budget)      # for a provider other than Gemini
        return chat

    def response_from_chat(self, chat: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
        if legacy_functions.uses_functions(request):
            chat = {**chat, "choices": [legacy_functions.legacy_choice(c) for c in chat.get("choices") or []]}
        return {**chat, "model": model}

    def error_from_chat(self, status: int, error: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return status, error

    def stream(self, model: str, request: dict[str, Any]) -> ChatEmitter:
        wants_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        return ChatEmitter(model, wants_usage, legacy=legacy_functions.uses_functions(request))


class ChatEmitter:
    """Pivot chunks out as ``data:`` events, ``[DONE]`` last; the usage chunk only if asked for."""

    def __init__(self, model: str, wants_usage: bool, legacy: bool = False) -> None:
        self.model = model
        self.wants_usage = wants_usage
        self.legacy = legacy                     # the client sent ``functions``: answer in their shape
        self.final: dict[str, Any] | None = None
        self.failed = False

    def feed(self, chunks: list[dict[str, Any]]) -> bytes:
        out = []
        for c in chunks:
            if "error" in c:
                self.failed = True
                out.append(sse.data_only({"error": c["error"]}))
                continue
            if usage_chunk(c) and not self.wants_usage:
                continue
            if self.legacy and c.get("choices"):
                c = {**c, "choices": [legacy_functions.legacy_choice(ch) for ch in c["choices"]]}
            out.append(sse.data_only({**c, "model": self.model}))
        return b"".join(out)

    def finish(self) -> bytes:
        return b"" if self.failed else sse.DONE


class ChatBackend:
    def request_from_chat(self, body: dict[str, Any], model: str, opts: Options) -> dict[str, Any]:
        out = dict(body)
        out["messages"] = [_strip(m) for m in body.get("messages") or []]
        openai = opts.target in OPENAI_KINDS
        if openai:
            out = fit_for_openai(out, opts)
            if "max_tokens" in out and "max_completion_tokens" not in out:
                out["max_completion_tokens"] = out.pop("max_tokens")
        else:
            if out.get("verbosity") is not None:
                opts.unsupported("verbosity", "OpenAI-compatible servers have no verbosity control", SAMPLING)
            out.pop("verbosity", None)
            out.pop("prompt_cache_key", None)       # a cache hint; meaning is unchanged without it
            out.pop("prompt_cache_retention", None)
        if "tools" in out:
            out["tools"] = [_unmarked(t) for t in out["tools"]]
        return out

    def response_to_chat(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        return body

    def error_to_chat(self, status: int, body: bytes) -> tuple[int, dict[str, Any]]:
        parsed = parse_error_body(body)
        err = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(err, dict):
            # The type follows the status (one table), as from every other provider.
            return status, openai_error(status, err.get("message") or f"HTTP {status}",
                                        code=err.get("code"), param=err.get("param"))
        return status, openai_error(status, f"provider answered HTTP {status}")

    def stream(self, model: str) -> ChatParser:
        return ChatParser()


class ChatParser:
    """Chat SSE bytes in, chunk dicts out (``[DONE]`` dropped: the client side writes its own end)."""

    def __init__(self) -> None:
        self._sse = sse.SSEParser()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        return self._events(self._sse.feed(chunk))

    def finish(self) -> list[dict[str, Any]]:
        return self._events(self._sse.finish())

    def _events(self, events: list[tuple[str | None, str]]) -> list[dict[str, Any]]:
        out = []
        for _name, data in events:
            if not data or data == "[DONE]":
                continue
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(obj, dict):
                continue
            out.append(obj)
        return out


def _unmarked(item: Any) -> Any:
    """*item* without Anthropic's ``cache_control`` (OpenAI caches prefixes by itself)."""
    if isinstance(item, dict) and "cache_control" in item:
        return {k: v for k, v in item.items() if k != "cache_control"}
    return item


def _strip(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list) and any(isinstance(p, dict) and "cache_control" in p for p in content):
        message = {**message, "content": [_unmarked(p) for p in content]}
    message = _unmarked(message)
    if not any(k in message for k in _MESSAGE_EXTENSIONS) and not message.get("tool_calls"):
        return message
    m = {k: v for k, v in message.items() if k not in _MESSAGE_EXTENSIONS}
    if message.get("tool_calls"):
        m["tool_calls"] = [{k: v for k, v in tc.items() if k != "extra_content"} for tc in message["tool_calls"]]
    return m


CLIENT = ChatClient()
BACKEND = ChatBackend()
