"""Anthropic Messages as the *client* side: Claude Code and the anthropic SDK on any model.

Thinking blocks the client replays are decoded: a real Anthropic signature
travels on in ``thinking_blocks``; a gateway-made one (``RGC1`` carrier, see common.carry)
restores the Gemini thought signatures it packed. Synthesised messages carry
every key the spec marks required, nullable ones as ``null``, and leave out the
optional ones instead of writing ``null`` (a text block has no ``citations``:
the Vercel AI SDK refuses ``"citations": null``).
"""

from __future__ import annotations

from typing import Any

from plugins.anthropic.errors import ERROR_TYPES, anthropic_error_type
from plugins.translate.pivot import (
    ClientFns,
    Options,
    budget_to_effort,
    carry,
    data_uri,
    dumps,
    gemini_signatures,
    loads_object,
    new_id,
    uncarry,
)
from proxy import sse
from proxy.exchange import HOSTED_TOOL

STOP_FROM_FINISH = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                    "content_filter": "refusal"}


def usage_from_chat(u: dict[str, Any] | None) -> dict[str, Any]:
    u = u or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return {"input_tokens": max(0, (u.get("prompt_tokens") or 0) - cached),
            "output_tokens": u.get("completion_tokens") or 0,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached, "cache_creation": None,
            "server_tool_use": None, "service_tier": None, "inference_geo": None}


# ------------------------------------------------------------------ requests: anthropic -> chat

def _source_url(source: dict[str, Any]) -> str | None:
    if source.get("type") == "base64":
        return data_uri(source.get("media_type", "application/octet-stream"), source.get("data", ""))
    if source.get("type") == "url":
        return source.get("url")
    return None


def _parts(blocks: list[dict[str, Any]], opts: Options) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": b.get("text", "")})
        elif kind == "image":
            url = _source_url(b.get("source") or {})
            if url is None:
                opts.unsupported("messages.content.image.source", "only base64 and url image sources translate")
                continue
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif kind == "document":
            parts.append(_document(b, opts))
        else:
            opts.unsupported(f"messages.content.{kind}", f"content block type {kind!r} has no chat equivalent")
    return parts


def _document(block: dict[str, Any], opts: Options) -> dict[str, Any]:
    """A document block as the reference's ``document`` item (its own shape, image blocks of a
    ``content`` source as ``image_url`` items): each backend maps it to its native form."""
    source = dict(block.get("source") or {})
    if isinstance(source.get("content"), list):
        source["content"] = _parts(source["content"], opts)
    doc: dict[str, Any] = {"type": "document", "source": source}
    for key in ("title", "context", "citations"):
        if block.get(key) is not None:
            doc[key] = block[key]
    return doc


def _tool_content(block: dict[str, Any], opts: Options) -> Any:
    content = block.get("content")
    if isinstance(content, list):
        parts = _parts(content, opts)
        content = parts if any(p["type"] != "text" for p in parts) else "".join(p["text"] for p in parts)
    content = content if content is not None else ""
    if block.get("is_error") and isinstance(content, str):
        content = "Error: " + content
    return content


def _assistant(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    text, thinking, kept, calls = [], [], [], []
    gsig: dict[str, str] = {}
    msig: str | None = None
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            text.append(b.get("text", ""))
        elif kind == "thinking":
            payload = uncarry(b.get("signature"))
            if payload is not None:
                gsig.update(payload.get("gsig") or {})
                msig = payload.get("msig") or msig
            else:
                kept.append({"type": "thinking", "thinking": b.get("thinking", ""),
                             "signature": b.get("signature", "")})
            if b.get("thinking"):
                thinking.append(b["thinking"])
        elif kind == "redacted_thinking":
            kept.append({"type": "redacted_thinking", "data": b.get("data", "")})
        elif kind == "tool_use":
            calls.append({"id": b.get("id"), "type": "function",
                          "function": {"name": b.get("name", ""), "arguments": dumps(b.get("input") or {})}})
    m: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text else None}
    for c in calls:
        if c["id"] in gsig:
            c["extra_content"] = {"google": {"thought_signature": gsig[c["id"]]}}
    if calls:
        m["tool_calls"] = calls
    if thinking:
        m["reasoning_content"] = "".join(thinking)
    if kept:
        m["thinking_blocks"] = kept
    if msig:
        m["extra_content"] = {"google": {"thought_signature": msig}}
    if m["content"] is None and not calls:
        m["content"] = ""
    return m


def _messages(body: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, str) and system:
        out.append({"role": "system", "content": system})
    elif isinstance(system, list) and system:
        out.append({"role": "system", "content": [{"type": "text", "text": b.get("text", "")} for b in system]})
    for m in body.get("messages") or []:
        role, content = m.get("role"), m.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        if role == "assistant":
            out.append(_assistant(blocks))
            continue
        if role == "system":                        # mid-conversation system beta (Claude Code)
            out.append({"role": "system", "content": "".join(b.get("text", "") for b in blocks)})
            continue
        rest = []
        for b in blocks:
            if b.get("type") == "tool_result":
                out.append({"role": "tool", "tool_call_id": b.get("tool_use_id", ""),
                            "content": _tool_content(b, opts)})
            else:
                rest.append(b)
        if rest:
            parts = _parts(rest, opts)
            if all(p["type"] == "text" for p in parts) and len(parts) == 1:
                out.append({"role": "user", "content": parts[0]["text"]})
            else:
                out.append({"role": "user", "content": parts})
    return out


def request_to_chat(body: dict[str, Any], opts: Options) -> dict[str, Any]:
    chat: dict[str, Any] = {"messages": _messages(body, opts)}
    if body.get("max_tokens") is not None:
        chat["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p", "top_k"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("stop_sequences"):
        chat["stop"] = list(body["stop_sequences"])
    tools = []
    for t in body.get("tools") or []:
        if t.get("type") not in (None, "custom"):
            opts.unsupported(f"tools.{t.get('type')}", "Anthropic server tools run only on Anthropic", HOSTED_TOOL)
            continue
        fn: dict[str, Any] = {"name": t.get("name", ""), "parameters": t.get("input_schema") or {"type": "object"}}
        if t.get("description"):
            fn["description"] = t["description"]
        if t.get("strict") is True:
            fn["strict"] = True
        tools.append({"type": "function", "function": fn})
    if tools:
        chat["tools"] = tools
    tc = body.get("tool_choice") or {}
    kind = tc.get("type")
    if kind in ("auto", "none"):
        chat["tool_choice"] = kind
    elif kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "tool":
        chat["tool_choice"] = {"type": "function", "function": {"name": tc.get("name", "")}}
    if tc.get("disable_parallel_tool_use") is True and tools:
        chat["parallel_tool_calls"] = False
    thinking = body.get("thinking") or {}
    effort = (body.get("output_config") or {}).get("effort")
    if thinking.get("type") == "enabled":
        chat["reasoning_effort"] = budget_to_effort(int(thinking.get("budget_tokens") or 0))
    elif thinking.get("type") == "adaptive" or effort:
        chat["reasoning_effort"] = {"max": "xhigh"}.get(effort or "medium", effort or "medium")
    fmt = (body.get("output_config") or {}).get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        chat["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "output", "schema": fmt.get("schema") or {}, "strict": True}}
    for name in ("container", "mcp_servers"):
        if body.get(name):
            opts.unsupported(name, f"{name} runs only on Anthropic", HOSTED_TOOL)
    return chat


# ------------------------------------------------------------------ responses: chat -> anthropic

def _thinking_for(msg: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [dict(b) for b in msg.get("thinking_blocks") or [] if isinstance(b, dict)]
    payload = gemini_signatures(msg)
    if not blocks and (msg.get("reasoning_content") or payload):
        blocks.append({"type": "thinking", "thinking": msg.get("reasoning_content") or "", "signature": carry(payload)})
    elif payload:
        blocks.append({"type": "thinking", "thinking": "", "signature": carry(payload)})
    return blocks


def response_from_chat(chat: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
    choice = (chat.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    content: list[dict[str, Any]] = _thinking_for(msg)
    if msg.get("content"):
        content.append({"type": "text", "text": msg["content"] if isinstance(msg["content"], str)
                        else "".join(p.get("text", "") for p in msg["content"])})
    for tc in msg.get("tool_calls") or []:
        fn = tc.get("function") or {}
        content.append({"type": "tool_use", "id": tc.get("id") or new_id("toolu_"), "name": fn.get("name", ""),
                        "input": loads_object(fn.get("arguments")), "caller": {"type": "direct"}})
    cid = str(chat.get("id") or "")
    return {"id": "msg_" + (cid.removeprefix("chatcmpl-") or new_id("")), "type": "message", "role": "assistant",
            "model": model, "content": content,
            "stop_reason": STOP_FROM_FINISH.get(choice.get("finish_reason") or "stop", "end_turn"),
            "stop_sequence": None, "stop_details": None, "container": None, "usage": usage_from_chat(chat.get("usage"))}


def error_from_chat(status: int, error: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    err = error["error"] if isinstance(error.get("error"), dict) else {}
    if status == 503:
        status = 529                          # Anthropic's "overloaded": clients back off instead of hammering
    etype = anthropic_error_type(status)
    return status, {"type": "error", "error": {"type": etype, "message": err.get("message") or f"HTTP {status}"},
                    "request_id": None}


class AnthropicEmitter:
    """Chat chunks -> ``message_start``, ``content_block_*``, ``message_delta`` (with usage), ``message_stop``."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.final: dict[str, Any] | None = None
        self._started = False
        self._open: tuple[str, int] | None = None          # (kind, anthropic index)
        self._next = 0
        self._tools: dict[int, int] = {}                   # chat tool index -> block index
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None
        self._failed = False
        self._id = new_id("msg_")

    def _start(self, chunk: dict[str, Any]) -> bytes:
        self._started = True
        if chunk.get("id"):
            self._id = "msg_" + str(chunk["id"]).removeprefix("chatcmpl-")
        msg: dict[str, Any] = {"id": self._id, "type": "message", "role": "assistant", "model": self.model,
                               "content": [], "stop_reason": None, "stop_sequence": None, "stop_details": None,
                               "container": None, "usage": usage_from_chat(None)}
        return sse.event("message_start", {"type": "message_start", "message": msg})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        _, idx = self._open
        self._open = None
        return sse.event("content_block_stop", {"type": "content_block_stop", "index": idx})

    def _begin(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        idx = self._next
        self._next += 1
        self._open = (kind, idx)
        return out + sse.event("content_block_start", {"type": "content_block_start", "index": idx,
                                                       "content_block": block})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        assert self._open is not None
        return sse.event("content_block_delta", {"type": "content_block_delta", "index": self._open[1], "delta": delta})

    def feed(self, chunks: list[dict[str, Any]]) -> bytes:
        out = []
        for c in chunks:
            if "error" in c:
                out.append(self._error(c["error"]))
                continue
            if not self._started:
                out.append(self._start(c))
            if c.get("usage"):
                self._usage = c["usage"]
            for choice in c.get("choices") or []:
                if choice.get("index", 0) != 0:
                    continue
                out.append(self._choice(choice.get("delta") or {}))
                if choice.get("finish_reason"):
                    self._finish = choice["finish_reason"]
        return b"".join(out)

    def _choice(self, d: dict[str, Any]) -> bytes:
        out = []
        if d.get("reasoning_content"):
            if not self._open or self._open[0] != "thinking":
                out.append(self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""}))
            out.append(self._delta({"type": "thinking_delta", "thinking": d["reasoning_content"]}))
        for tb in d.get("thinking_blocks") or []:
            if tb.get("type") == "redacted_thinking":
                out.append(self._begin("redacted", {"type": "redacted_thinking", "data": tb.get("data", "")}))
                out.append(self._close())
                continue
            if not self._open or self._open[0] != "thinking":
                out.append(self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""}))
                if tb.get("thinking"):
                    out.append(self._delta({"type": "thinking_delta", "thinking": tb["thinking"]}))
            out.append(self._delta({"type": "signature_delta", "signature": tb.get("signature", "")}))
            out.append(self._close())
        msig = (d.get("extra_content") or {}).get("google", {}).get("thought_signature")
        if msig:
            out.append(self._signature_block({"msig": msig}))
        if d.get("content"):
            if not self._open or self._open[0] != "text":
                out.append(self._begin("text", {"type": "text", "text": ""}))
            out.append(self._delta({"type": "text_delta", "text": d["content"]}))
        for tc in d.get("tool_calls") or []:
            ti = tc.get("index", 0)
            fn = tc.get("function") or {}
            if ti not in self._tools:
                sig = (tc.get("extra_content") or {}).get("google", {}).get("thought_signature")
                tid = tc.get("id") or new_id("toolu_")
                if sig:
                    out.append(self._signature_block({"gsig": {tid: sig}}))
                out.append(self._begin("tool", {"type": "tool_use", "id": tid, "name": fn.get("name", ""),
                                                "input": {}, "caller": {"type": "direct"}}))
                self._tools[ti] = self._next - 1
            if fn.get("arguments") and self._open and self._open[1] == self._tools[ti]:
                out.append(self._delta({"type": "input_json_delta", "partial_json": fn["arguments"]}))
        return b"".join(out)

    def _signature_block(self, payload: dict[str, Any]) -> bytes:
        return (self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                + self._delta({"type": "signature_delta", "signature": carry(payload)}) + self._close())

    def _error(self, err: dict[str, Any]) -> bytes:
        self._failed = True
        _, body = error_from_chat(500 if err.get("type") == "server_error" else 400, {"error": err})
        if err.get("code") in ERROR_TYPES.values():
            body["error"]["type"] = err["code"]
        return sse.event("error", {"type": "error", "error": body["error"]})

    def finish(self) -> bytes:
        if self._failed:
            return b""
        out = [self._start({})] if not self._started else []
        out.append(self._close())
        u = usage_from_chat(self._usage)
        usage = {k: u[k] for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                   "cache_read_input_tokens", "server_tool_use")}
        stop = STOP_FROM_FINISH.get(self._finish or "stop", "end_turn")
        out.append(sse.event("message_delta", {"type": "message_delta",
                                               "delta": {"stop_reason": stop, "stop_sequence": None,
                                                         "stop_details": None, "container": None},
                                               "usage": usage}))
        out.append(sse.event("message_stop", {"type": "message_stop"}))
        return b"".join(out)


CLIENT = ClientFns(request_to_chat, response_from_chat, error_from_chat,
                   lambda model, request: AnthropicEmitter(model))
