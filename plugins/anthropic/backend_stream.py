"""Anthropic Messages stream -> chat pivot chunks (the backend side of a stream)."""

from __future__ import annotations

from typing import Any

import orjson

from plugins.translate.pivot import chat_usage, new_id, now
from proxy import sse

FINISH_FROM_STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                    "refusal": "content_filter", "pause_turn": "stop", "model_context_window_exceeded": "length"}


class AnthropicParser:
    """``message_start`` .. ``message_stop`` in; chat chunks out, tool call indexes in block order."""

    def __init__(self, model: str) -> None:
        self._sse = sse.SSEParser()
        self.model = model
        self.id = new_id("chatcmpl-")
        self.created = now()
        self._u: dict[str, Any] = {}
        self._blocks: dict[int, dict[str, Any]] = {}     # anthropic index -> state
        self._tools = 0
        self._finish: str | None = None
        self._done = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        return self._events(self._sse.feed(chunk))

    def finish(self) -> list[dict[str, Any]]:
        out = self._events(self._sse.finish())
        if not self._done and self._u:
            out += self._close()
        return out

    def _close(self) -> list[dict[str, Any]]:
        self._done = True
        u = self._u
        cached = u.get("cache_read_input_tokens") or 0
        created = u.get("cache_creation_input_tokens") or 0
        prompt = (u.get("input_tokens") or 0) + cached + created
        usage = chat_usage(prompt, u.get("output_tokens") or 0, cached=cached)
        return [{"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                 "choices": [], "usage": usage}]

    def _events(self, events: list[tuple[str | None, str]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _name, data in events:
            if not data or data == "[DONE]":
                continue
            try:
                ev = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(ev, dict):
                out += self._event(ev)
        return out

    def _event(self, ev: dict[str, Any]) -> list[dict[str, Any]]:
        kind = ev.get("type")
        if kind == "message_start":
            msg = ev.get("message") or {}
            if msg.get("id"):
                self.id = "chatcmpl-" + msg["id"].removeprefix("msg_")
            self._u.update({k: v for k, v in (msg.get("usage") or {}).items() if isinstance(v, int)})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            idx, block = ev.get("index", 0), ev.get("content_block") or {}
            btype = block.get("type")
            state: dict[str, Any] = {"type": btype, "thinking": [], "signature": block.get("signature") or ""}
            self._blocks[idx] = state
            if btype == "tool_use":
                state["tool"] = self._tools
                self._tools += 1
                return [self._chunk({"tool_calls": [{"index": state["tool"], "id": block.get("id"), "type": "function",
                                                     "function": {"name": block.get("name", ""), "arguments": ""}}]})]
            if btype == "redacted_thinking":
                return [self._chunk({"thinking_blocks": [{"type": "redacted_thinking",
                                                          "data": block.get("data", "")}]})]
            if btype == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            if btype == "thinking" and block.get("thinking"):
                state["thinking"].append(block["thinking"])
                return [self._chunk({"reasoning_content": block["thinking"]})]
            return []
        if kind == "content_block_delta":
            state = self._blocks.get(ev.get("index", 0)) or {}
            d = ev.get("delta") or {}
            dt = d.get("type")
            if dt == "text_delta":
                return [self._chunk({"content": d.get("text", "")})]
            if dt == "thinking_delta":
                state.setdefault("thinking", []).append(d.get("thinking", ""))
                return [self._chunk({"reasoning_content": d.get("thinking", "")})]
            if dt == "signature_delta":
                state["signature"] = state.get("signature", "") + d.get("signature", "")
                return []
            if dt == "input_json_delta" and "tool" in state:
                return [self._chunk({"tool_calls": [{"index": state["tool"],
                                                     "function": {"arguments": d.get("partial_json", "")}}]})]
            return []
        if kind == "content_block_stop":
            state = self._blocks.get(ev.get("index", 0)) or {}
            if state.get("type") == "thinking":
                block = {"type": "thinking", "thinking": "".join(state.get("thinking", [])),
                         "signature": state.get("signature", "")}
                return [self._chunk({"thinking_blocks": [block]})]
            return []
        if kind == "message_delta":
            self._u.update({k: v for k, v in (ev.get("usage") or {}).items() if isinstance(v, int)})
            stop = (ev.get("delta") or {}).get("stop_reason")
            self._finish = FINISH_FROM_STOP.get(stop or "", "stop")
            return [self._chunk({}, self._finish)]
        if kind == "message_stop":
            return self._close() if not self._done else []
        if kind == "error":
            err = ev.get("error") or {}
            etype = err.get("type") or "api_error"
            self._done = True
            return [{"error": {"message": err.get("message") or etype,
                               "type": "server_error" if etype in ("overloaded_error", "api_error") else etype,
                               "param": None, "code": etype}}]
        return []
