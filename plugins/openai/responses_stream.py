"""Chat pivot chunks -> an OpenAI Responses event stream (and the Response object itself).

Every item gets ``output_item.added`` ... ``output_item.done`` and the stream
ends with ``response.completed`` (``response.incomplete`` at the length
limit, ``error`` + ``response.failed`` on a provider error), carrying usage:
Codex and opencode need all of these.
"""

from __future__ import annotations

import contextvars
from typing import Any, Protocol

from plugins.translate.pivot import carry, loads_object, new_id, now
from proxy import sse


class EndableStream(Protocol):
    """A Responses stream being relayed (a passthrough's meter or a translation's emitter)."""

    def fail(self, error: dict[str, Any]) -> bytes:
        """The events that end it after a relay failure: ``error`` then one ``response.failed``
        (nothing when a terminal event already went out); *error* is OpenAI-shaped."""
        ...


#: the Responses stream of the request being relayed (each request runs in its own asyncio
#: task), so a failure the relay notices continues its sequence numbers and ends it properly
CURRENT_STREAM: contextvars.ContextVar[EndableStream] = contextvars.ContextVar("responses_stream")


def usage_from_chat(u: dict[str, Any] | None) -> dict[str, Any]:
    u = u or {}
    return {"input_tokens": u.get("prompt_tokens") or 0,
            "input_tokens_details": {"cached_tokens": (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
                                     "cache_write_tokens": 0},
            "output_tokens": u.get("completion_tokens") or 0,
            "output_tokens_details": {"reasoning_tokens":
                                      (u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0},
            "total_tokens": u.get("total_tokens") or (u.get("prompt_tokens") or 0) + (u.get("completion_tokens") or 0)}


def response_object(rid: str, created: int, model: str, request: dict[str, Any], status: str,
                    output: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
    """A Response object as the Open Responses spec has it: every required key (``usage``
    null until known), the request's settings echoed with the API's defaults, and no null
    in a key the spec makes optional."""
    reasoning = request.get("reasoning") or {}
    return {
        "id": rid, "object": "response", "created_at": created, "status": status,
        "completed_at": now() if status == "completed" else None, "incomplete_details": None,
        "model": model, "previous_response_id": request.get("previous_response_id"),
        "instructions": request.get("instructions"), "output": output, "error": None,
        "tools": [_tool(t) for t in request.get("tools") or []],
        "tool_choice": request.get("tool_choice") or "auto",
        "truncation": request.get("truncation") or "disabled",
        "parallel_tool_calls": request.get("parallel_tool_calls") is not False,
        "text": _text(request.get("text") or {}),
        "top_p": _number(request.get("top_p"), 1.0),
        "presence_penalty": _number(request.get("presence_penalty"), 0.0),
        "frequency_penalty": _number(request.get("frequency_penalty"), 0.0),
        "top_logprobs": request.get("top_logprobs") or 0,
        "temperature": _number(request.get("temperature"), 1.0),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "usage": usage, "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"), "store": request.get("store") is not False,
        "background": False, "service_tier": "default", "metadata": request.get("metadata") or {},
        "safety_identifier": request.get("safety_identifier"), "prompt_cache_key": request.get("prompt_cache_key"),
    }


def error_event_fields(err: dict[str, Any]) -> dict[str, Any]:
    """An ``error`` event's fields for an OpenAI-shaped error: nested under ``error`` as Open
    Responses has it, and flat as OpenAI streams it (its SDKs read ``code``/``message``)."""
    code = err.get("code") or err.get("type")
    payload = {"type": err.get("type") or "server_error", "code": str(code) if code is not None else None,
               "message": err.get("message", ""), "param": err.get("param")}
    return {"error": payload, "code": payload["code"], "message": payload["message"], "param": payload["param"]}


def _number(value: Any, default: float) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _text(text: dict[str, Any]) -> dict[str, Any]:
    """``text`` as echoed: a json_schema format with all its keys (the reference nests them
    in ``json_schema``; OpenAI puts them beside ``type``)."""
    fmt: dict[str, Any] = text.get("format") or {"type": "text"}
    if fmt.get("type") == "json_schema":
        nested = fmt.get("json_schema")
        inner: dict[str, Any] = nested if isinstance(nested, dict) else fmt
        fmt = {"type": "json_schema", "name": inner.get("name") or "response", "description": inner.get("description"),
               "schema": inner.get("schema"), "strict": inner.get("strict") is True}
    return {"format": fmt, "verbosity": text.get("verbosity") or "medium"}


def _tool(t: dict[str, Any]) -> dict[str, Any]:
    if t.get("type") != "function":
        return t
    return {"type": "function", "name": t.get("name", ""), "description": t.get("description"),
            "parameters": t.get("parameters"), "strict": t.get("strict")}


class ResponsesEmitter:
    def __init__(self, model: str, request: dict[str, Any], custom: set[str]) -> None:
        self.model = model
        self.request = request
        self.custom = custom
        self.final: dict[str, Any] | None = None
        self.id = new_id("resp_")
        self.created = now()
        self._seq = 0
        self._started = False
        self._items: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None          # the item being streamed, with private state
        self._tools: dict[int, dict[str, Any]] = {}
        self._usage: dict[str, Any] | None = None
        self._finish: str | None = None
        self._failed = False
        self._msig: str | None = None
        CURRENT_STREAM.set(self)

    def _ev(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, **fields, "sequence_number": self._seq}
        self._seq += 1
        return sse.event(kind, data)

    def _snapshot(self, status: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        return response_object(self.id, self.created, self.model, self.request, status, list(self._items), usage)

    def _start(self) -> bytes:
        self._started = True
        snap = self._snapshot("in_progress")
        return self._ev("response.created", response=snap) + self._ev("response.in_progress", response=snap)

    # ---------------------------------------------------------------- items
    def _add(self, item: dict[str, Any], **state: Any) -> bytes:
        out = self._close()
        self._open = {"item": item, "index": len(self._items), **state}
        self._items.append(item)
        return out + self._ev("response.output_item.added", output_index=self._open["index"], item=dict(item))

    def _close(self) -> bytes:
        o = self._open
        if o is None:
            return b""
        self._open = None
        item, idx = o["item"], o["index"]
        kind, out = item["type"], []
        if kind == "reasoning":
            text = "".join(o["text"])
            common = {"item_id": item["id"], "output_index": idx, "summary_index": 0}
            if o["text"]:
                out.append(self._ev("response.reasoning_summary_text.done", **common, text=text))
                out.append(self._ev("response.reasoning_summary_part.done", **common,
                                    part={"type": "summary_text", "text": text}))
                item["summary"] = [{"type": "summary_text", "text": text}]
            if o["payload"]:
                item["encrypted_content"] = carry(o["payload"])
        elif kind == "message":
            text = "".join(o["text"])
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            common = {"item_id": item["id"], "output_index": idx, "content_index": 0}
            out.append(self._ev("response.output_text.done", **common, text=text, logprobs=[]))
            out.append(self._ev("response.content_part.done", **common, part=part))
            item.update(status="completed", content=[part])
        elif kind == "function_call":
            args = "".join(o["args"])
            out.append(self._ev("response.function_call_arguments.done", item_id=item["id"], output_index=idx,
                                name=item["name"], arguments=args))
            item.update(status="completed", arguments=args)
        elif kind == "custom_tool_call":
            item.update(status="completed", input=str(loads_object("".join(o["args"])).get("input", "")))
        out.append(self._ev("response.output_item.done", output_index=idx, item=dict(item)))
        return b"".join(out)

    def _reasoning(self, text: str = "", payload: dict[str, Any] | None = None) -> bytes:
        out = []
        if not self._open or self._open["item"]["type"] != "reasoning":
            out.append(self._add({"id": new_id("rs_"), "type": "reasoning", "summary": []},
                                 text=[], payload={}))
        o = self._open
        assert o is not None
        if text:
            common = {"item_id": o["item"]["id"], "output_index": o["index"], "summary_index": 0}
            if not o["text"]:
                out.append(self._ev("response.reasoning_summary_part.added", **common,
                                    part={"type": "summary_text", "text": ""}))
            o["text"].append(text)
            out.append(self._ev("response.reasoning_summary_text.delta", **common, delta=text))
        if payload:
            for k, v in payload.items():
                if k == "tb":
                    o["payload"].setdefault("tb", []).extend(v)
                elif k == "gsig":
                    o["payload"].setdefault("gsig", {}).update(v)
                else:
                    o["payload"][k] = v
        return b"".join(out)

    # ---------------------------------------------------------------- chunks
    def feed(self, chunks: list[dict[str, Any]]) -> bytes:
        out = []
        for c in chunks:
            if self._failed:
                break
            if not self._started:
                out.append(self._start())
            if "error" in c:
                out.append(self._error(c["error"]))
                continue
            if c.get("usage"):
                self._usage = c["usage"]
            for ch in c.get("choices") or []:
                if ch.get("index", 0) != 0:
                    continue
                out.append(self._delta(ch.get("delta") or {}))
                if ch.get("finish_reason"):
                    self._finish = ch["finish_reason"]
        return b"".join(out)

    def _delta(self, d: dict[str, Any]) -> bytes:
        out = []
        if d.get("reasoning_content"):
            out.append(self._reasoning(d["reasoning_content"]))
        for tb in d.get("thinking_blocks") or []:
            text = tb.get("thinking", "") if not (self._open and self._open["item"]["type"] == "reasoning") else ""
            out.append(self._reasoning(text, {"tb": [tb]}))
            out.append(self._close())                        # one reasoning item per thinking block
        sig = (d.get("extra_content") or {}).get("google", {}).get("thought_signature")
        if sig:
            self._msig = sig
        if d.get("content"):
            o = self._open
            if not o or o["item"]["type"] != "message":
                out.append(self._add({"id": new_id("msg_"), "type": "message", "status": "in_progress",
                                      "role": "assistant", "content": []}, text=[]))
                o = self._open
                assert o is not None
                out.append(self._ev("response.content_part.added", item_id=o["item"]["id"], output_index=o["index"],
                                    content_index=0, part={"type": "output_text", "text": "", "annotations": [],
                                                           "logprobs": []}))
            o["text"].append(d["content"])
            out.append(self._ev("response.output_text.delta", item_id=o["item"]["id"], output_index=o["index"],
                                content_index=0, delta=d["content"], logprobs=[]))
        for tc in d.get("tool_calls") or []:
            out.append(self._tool(tc))
        return b"".join(out)

    def _tool(self, tc: dict[str, Any]) -> bytes:
        out = []
        ti, fn = tc.get("index", 0), tc.get("function") or {}
        if ti not in self._tools:
            call_id = tc.get("id") or new_id("call_")
            sig = (tc.get("extra_content") or {}).get("google", {}).get("thought_signature")
            if sig:
                out.append(self._reasoning(payload={"gsig": {call_id: sig}}))
            name = fn.get("name", "")
            if name in self.custom:
                item = {"id": new_id("ctc_"), "type": "custom_tool_call", "status": "in_progress", "call_id": call_id,
                        "name": name, "input": ""}
            else:
                item = {"id": new_id("fc_"), "type": "function_call", "status": "in_progress", "call_id": call_id,
                        "name": name, "arguments": ""}
            out.append(self._add(item, args=[]))
            self._tools[ti] = self._open                     # type: ignore[assignment]
        o = self._tools[ti]
        if fn.get("arguments"):
            o["args"].append(fn["arguments"])
            if o is self._open and o["item"]["type"] == "function_call":
                out.append(self._ev("response.function_call_arguments.delta", item_id=o["item"]["id"],
                                    output_index=o["index"], delta=fn["arguments"]))
        return b"".join(out)

    def _error(self, err: dict[str, Any]) -> bytes:
        self._failed = True
        out = [self._ev("error", **error_event_fields(err))]
        snap = self._snapshot("failed")
        snap["error"] = {"code": "server_error", "message": err.get("message", "")}
        out.append(self._ev("response.failed", response=snap))
        return b"".join(out)

    def fail(self, error: dict[str, Any]) -> bytes:
        if self._failed or self.final is not None:
            return b""
        return (b"" if self._started else self._start()) + self._error(error)

    def finish(self) -> bytes:
        if self._failed:
            return b""
        out = [] if self._started else [self._start()]
        if self._msig:
            out.append(self._reasoning(payload={"msig": self._msig}))
        out.append(self._close())
        status, details, kind = "completed", None, "response.completed"
        if self._finish == "length":
            status, details, kind = "incomplete", {"reason": "max_output_tokens"}, "response.incomplete"
        elif self._finish == "content_filter":
            status, details, kind = "incomplete", {"reason": "content_filter"}, "response.incomplete"
        final = self._snapshot(status, usage_from_chat(self._usage))
        final["incomplete_details"] = details
        self.final = final
        out.append(self._ev(kind, response=final))
        return b"".join(out)
