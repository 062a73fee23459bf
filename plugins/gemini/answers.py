"""Gemini answers -> the chat pivot: whole responses and streams (``alt=sse`` events or a
streamed JSON array). Finish: STOP (+functionCall parts) -> tool_calls, STOP -> stop,
MAX_TOKENS -> length, safety reasons -> content_filter."""

from __future__ import annotations

from typing import Any

import orjson

from plugins.translate.pivot import chat_usage, dumps, new_id, now
from proxy import sse

FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT", "LANGUAGE"}


def finish_to_chat(reason: str | None, has_calls: bool) -> str | None:
    if reason is None:
        return None
    if has_calls and reason in ("STOP", "FINISH_REASON_UNSPECIFIED"):
        return "tool_calls"
    if reason == "MAX_TOKENS":
        return "length"
    if reason in FILTERED:
        return "content_filter"
    return "tool_calls" if has_calls else "stop"


def usage_to_chat(um: dict[str, Any] | None) -> dict[str, Any]:
    um = um or {}
    thoughts = um.get("thoughtsTokenCount") or 0
    completion = (um.get("candidatesTokenCount") or 0) + thoughts
    prompt = (um.get("promptTokenCount") or 0) + (um.get("toolUsePromptTokenCount") or 0)
    return chat_usage(prompt, completion, cached=um.get("cachedContentTokenCount") or 0, reasoning=thoughts,
                      total=um.get("totalTokenCount"))


# ------------------------------------------------------------------ responses: gemini -> chat

def _logprobs(lp: dict[str, Any] | None) -> dict[str, Any] | None:
    if not lp:
        return None
    tops = lp.get("topCandidates") or []
    content = []
    for i, c in enumerate(lp.get("chosenCandidates") or []):
        top = tops[i].get("candidates") if i < len(tops) else []
        content.append({"token": c.get("token", ""), "logprob": c.get("logProbability", 0.0), "bytes": None,
                        "top_logprobs": [{"token": t.get("token", ""), "logprob": t.get("logProbability", 0.0),
                                          "bytes": None} for t in top or []]})
    return {"content": content, "refusal": None}


def call_to_chat(part: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    call = part["functionCall"]
    tc: dict[str, Any] = {"id": call.get("id") or new_id("call_"), "type": "function",
                          "function": {"name": call.get("name", ""), "arguments": dumps(call.get("args") or {})}}
    if index is not None:
        tc = {"index": index, **tc}
    if part.get("thoughtSignature"):
        tc["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return tc


def candidate_to_choice(cand: dict[str, Any]) -> dict[str, Any]:
    text, thoughts, calls = [], [], []
    msig = None
    for p in (cand.get("content") or {}).get("parts") or []:
        if "functionCall" in p:
            calls.append(call_to_chat(p))
        elif p.get("thought"):
            thoughts.append(p.get("text", ""))
            msig = p.get("thoughtSignature") or msig
        elif "text" in p:
            text.append(p["text"])
            msig = p.get("thoughtSignature") or msig
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None,
                           "refusal": None}
    if calls:
        msg["tool_calls"] = calls
    if thoughts:
        msg["reasoning_content"] = "".join(thoughts)
    if msig:
        msg["extra_content"] = {"google": {"thought_signature": msig}}
    choice = {"index": cand.get("index", 0), "message": msg, "logprobs": _logprobs(cand.get("logprobsResult")),
              "finish_reason": finish_to_chat(cand.get("finishReason") or "STOP", bool(calls))}
    return with_extra_fields(choice, cand)


def with_extra_fields(choice: dict[str, Any], cand: dict[str, Any]) -> dict[str, Any]:
    """The reference's ``extra_fields`` of a choice: Gemini's ``safetyRatings`` (the one extra field
    the reference passes on), only when the candidate has them."""
    if cand.get("safetyRatings"):
        choice["extra_fields"] = {"safetyRatings": cand["safetyRatings"]}
    return choice


def response_to_chat(body: dict[str, Any], model: str) -> dict[str, Any]:
    choices = [candidate_to_choice(c) for c in body.get("candidates") or []]
    if not choices:                              # prompt blocked: no candidates at all
        choices = [{"index": 0, "message": {"role": "assistant", "content": "", "refusal": None},
                    "logprobs": None, "finish_reason": "content_filter"}]
    return {"id": "chatcmpl-" + (body.get("responseId") or new_id("")), "object": "chat.completion",
            "created": now(), "model": model, "choices": choices, "usage": usage_to_chat(body.get("usageMetadata"))}


class GeminiParser:
    """Gemini stream (``alt=sse`` events or a streamed JSON array) -> chat chunks."""

    def __init__(self, model: str) -> None:
        self._sse = sse.SSEParser()
        self._array: sse.JsonArrayParser | None = None
        self._mode: str | None = None
        self.model = model
        self.id = new_id("chatcmpl-")
        self.created = now()
        self._um: dict[str, Any] | None = None
        self._tools: dict[int, int] = {}               # candidate index -> tool calls so far
        self._calls: dict[int, bool] = {}
        self._started: set[int] = set()
        self._done = False

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        if self._mode is None:
            head = chunk.lstrip()
            if not head:
                return []
            self._mode = "array" if head[:1] == b"[" else "sse"
            if self._mode == "array":
                self._array = sse.JsonArrayParser()
        if self._array is not None:
            return self._objects(self._array.feed(chunk))
        return self._objects([_json(d) for _n, d in self._sse.feed(chunk)])

    def finish(self) -> list[dict[str, Any]]:
        out = self._objects([_json(d) for _n, d in self._sse.finish()]) if self._array is None else []
        if not self._done and self._um is not None:
            out.append(self._usage_chunk())
        return out

    def _usage_chunk(self) -> dict[str, Any]:
        self._done = True
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": usage_to_chat(self._um)}

    def _objects(self, objs: list[Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for obj in objs:
            if not isinstance(obj, dict):
                continue
            if isinstance(obj.get("error"), dict):
                err = obj["error"]
                self._done = True
                out.append({"error": {"message": err.get("message", ""), "type": "server_error", "param": None,
                                      "code": err.get("status")}})
                continue
            if obj.get("responseId"):
                self.id = "chatcmpl-" + obj["responseId"]
            if obj.get("usageMetadata"):
                self._um = obj["usageMetadata"]
            for cand in obj.get("candidates") or []:
                out += self._candidate(cand)
        return out

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None,
               logprobs: Any = None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]}

    def _candidate(self, cand: dict[str, Any]) -> list[dict[str, Any]]:
        i = cand.get("index", 0)
        out = []
        if i not in self._started:
            self._started.add(i)
            out.append(self._chunk(i, {"role": "assistant", "content": ""}))
        lp = _logprobs(cand.get("logprobsResult"))
        for p in (cand.get("content") or {}).get("parts") or []:
            if "functionCall" in p:
                k = self._tools.get(i, 0)
                self._tools[i] = k + 1
                self._calls[i] = True
                out.append(self._chunk(i, {"tool_calls": [call_to_chat(p, k)]}))
            elif p.get("thought"):
                delta: dict[str, Any] = {"reasoning_content": p.get("text", "")}
                if p.get("thoughtSignature"):
                    delta["extra_content"] = {"google": {"thought_signature": p["thoughtSignature"]}}
                out.append(self._chunk(i, delta))
            elif "text" in p:
                delta = {"content": p["text"]}
                if p.get("thoughtSignature"):
                    delta["extra_content"] = {"google": {"thought_signature": p["thoughtSignature"]}}
                out.append(self._chunk(i, delta, logprobs=lp))
                lp = None
        if cand.get("finishReason"):
            last = self._chunk(i, {}, finish_to_chat(cand["finishReason"], self._calls.get(i, False)))
            with_extra_fields(last["choices"][0], cand)
            out.append(last)
        return out


def _json(data: str) -> Any:
    if not data or data == "[DONE]":
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
