"""Gemini generateContent <-> the chat pivot, with Gemini as the *backend*.

Mapping rules: system/developer -> ``systemInstruction``; assistant ->
``model`` turns with ``functionCall`` parts (ids kept, thought signatures
from ``extra_content.google.thought_signature``); tool messages ->
``functionResponse`` parts (``{"output": content}``) of one user turn;
``tools`` -> ``functionDeclarations`` with ``parametersJsonSchema``;
``tool_choice`` auto/none/required/named -> AUTO/NONE/ANY/ANY+allowed name;
``response_format`` -> ``responseMimeType`` + ``responseJsonSchema``;
``reasoning_effort`` -> ``thinkingConfig.thinkingBudget``; ``n`` ->
``candidateCount``; ``logprobs``/``top_logprobs`` -> ``responseLogprobs``/``logprobs``.
Finish: STOP (+functionCall parts) -> tool_calls, STOP -> stop, MAX_TOKENS ->
length, safety reasons -> content_filter.
"""

from __future__ import annotations

from typing import Any

import orjson

from plugins.openai.errors import openai_error
from plugins.translate.pivot import (
    EFFORT_BUDGET,
    BackendFns,
    Options,
    chat_usage,
    dumps,
    loads_object,
    mime_from_url,
    new_id,
    now,
    parse_data_uri,
    parse_error_body,
    text_of,
)
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


# ------------------------------------------------------------------ requests: chat -> gemini

def _media_part(url: str) -> dict[str, Any]:
    parsed = parse_data_uri(url)
    if parsed:
        return {"inlineData": {"mimeType": parsed[0], "data": parsed[1]}}
    return {"fileData": {"mimeType": mime_from_url(url), "fileUri": url}}


def _parts(content: Any, opts: Options) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for p in content or []:
        kind = p.get("type")
        if kind == "text":
            parts.append({"text": p.get("text", "")})
        elif kind == "image_url":
            iu = p.get("image_url")
            parts.append(_media_part(iu.get("url", "") if isinstance(iu, dict) else str(iu)))
        elif kind == "file":
            data = (p.get("file") or {}).get("file_data") or ""
            if not parse_data_uri(data):
                opts.unsupported("messages.content.file", "only inline file_data (data: URI) can be sent")
                continue
            parts.append(_media_part(data))
        elif kind == "input_audio":
            a = p.get("input_audio") or {}
            parts.append({"inlineData": {"mimeType": f"audio/{a.get('format', 'wav')}", "data": a.get("data", "")}})
        else:
            opts.unsupported(f"messages.content.{kind}", f"content part type {kind!r} has no Gemini part")
    return parts


def _model_parts(m: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    text = text_of(m.get("content"))
    msig = (m.get("extra_content") or {}).get("google", {}).get("thought_signature")
    if text:
        part: dict[str, Any] = {"text": text}
        if msig:
            part["thoughtSignature"] = msig
        parts.append(part)
    elif msig and not m.get("tool_calls"):
        parts.append({"text": "", "thoughtSignature": msig})
    for tc in m.get("tool_calls") or []:
        fn = tc.get("function") or {}
        call: dict[str, Any] = {"name": fn.get("name", ""), "args": loads_object(fn.get("arguments"))}
        if tc.get("id"):
            call["id"] = tc["id"]
        part = {"functionCall": call}
        sig = (tc.get("extra_content") or {}).get("google", {}).get("thought_signature")
        if sig:
            part["thoughtSignature"] = sig
        parts.append(part)
    return parts


def _contents(messages: list[dict[str, Any]], opts: Options) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for m in messages:
        role = m.get("role")
        if role in ("system", "developer"):
            system.extend(_parts(m.get("content"), opts))
        elif role == "user":
            add("user", _parts(m.get("content"), opts))
        elif role == "assistant":
            for tc in m.get("tool_calls") or []:
                names[tc.get("id", "")] = (tc.get("function") or {}).get("name", "")
            add("model", _model_parts(m))
        elif role == "tool":
            tid = m.get("tool_call_id", "")
            fr: dict[str, Any] = {"name": names.get(tid, ""), "response": {"output": text_of(m.get("content"))}}
            if tid:
                fr["id"] = tid
            add("user", [{"functionResponse": fr}])
        else:
            opts.unsupported(f"messages.role.{role}", "legacy function messages are not translated")
    return system, contents


def _tool_config(body: dict[str, Any], opts: Options) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        opts.unsupported("parallel_tool_calls", "Gemini cannot limit a turn to one function call")
    if choice is None:
        return None
    if choice == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    name = (choice.get("function") or {}).get("name", "") if isinstance(choice, dict) else ""
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def request_from_chat(body: dict[str, Any], model: str, opts: Options) -> dict[str, Any]:
    system, contents = _contents(body.get("messages") or [], opts)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    decls = []
    for t in body.get("tools") or []:
        if t.get("type") != "function":
            opts.unsupported(f"tools.{t.get('type')}", "only function tools translate")
            continue
        fn = t.get("function") or {}
        d: dict[str, Any] = {"name": fn.get("name", "")}
        if fn.get("description"):
            d["description"] = fn["description"]
        if fn.get("parameters"):
            d["parametersJsonSchema"] = fn["parameters"]
        decls.append(d)
    if decls:
        out["tools"] = [{"functionDeclarations": decls}]
    tc = _tool_config(body, opts)
    if tc:
        out["toolConfig"] = tc
    gc: dict[str, Any] = {}
    for src, dst in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"), ("seed", "seed"),
                     ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty")):
        if body.get(src) is not None:
            gc[dst] = body[src]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        gc["maxOutputTokens"] = max_tokens
    stop = body.get("stop")
    if stop:
        gc["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if (body.get("n") or 1) > 1:
        gc["candidateCount"] = body["n"]
    if body.get("logprobs"):
        gc["responseLogprobs"] = True
        if body.get("top_logprobs"):
            gc["logprobs"] = body["top_logprobs"]
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        gc["responseMimeType"] = "application/json"
        schema = (rf.get("json_schema") or {}).get("schema")
        if schema:
            gc["responseJsonSchema"] = schema
    elif rf.get("type") == "json_object":
        gc["responseMimeType"] = "application/json"
    effort = body.get("reasoning_effort")
    if effort == "none":
        gc["thinkingConfig"] = {"thinkingBudget": 0}
    elif effort:
        gc["thinkingConfig"] = {"thinkingBudget": EFFORT_BUDGET.get(effort, EFFORT_BUDGET["medium"]),
                                "includeThoughts": True}
    if gc:
        out["generationConfig"] = gc
    for name in ("logit_bias", "verbosity", "audio", "prediction", "web_search_options"):
        if body.get(name) is not None:
            opts.unsupported(name, f"Gemini has no {name}")
    return out


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
    return {"index": cand.get("index", 0), "message": msg, "logprobs": _logprobs(cand.get("logprobsResult")),
            "finish_reason": finish_to_chat(cand.get("finishReason") or "STOP", bool(calls))}


def response_to_chat(body: dict[str, Any], model: str) -> dict[str, Any]:
    choices = [candidate_to_choice(c) for c in body.get("candidates") or []]
    if not choices:                              # prompt blocked: no candidates at all
        choices = [{"index": 0, "message": {"role": "assistant", "content": "", "refusal": None},
                    "logprobs": None, "finish_reason": "content_filter"}]
    return {"id": "chatcmpl-" + (body.get("responseId") or new_id("")), "object": "chat.completion",
            "created": now(), "model": model, "choices": choices, "usage": usage_to_chat(body.get("usageMetadata"))}




def error_to_chat(status: int, body: bytes) -> tuple[int, dict[str, Any]]:
    parsed = parse_error_body(body)
    if isinstance(parsed, list) and parsed:       # Vertex sometimes wraps the Status in a list
        parsed = parsed[0]
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(err, dict):
        return status, openai_error(status, f"provider answered HTTP {status}")
    return status, openai_error(status, err.get("message") or f"HTTP {status}", code=err.get("status"))


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
            out.append(self._chunk(i, {}, finish_to_chat(cand["finishReason"], self._calls.get(i, False))))
        return out


def _json(data: str) -> Any:
    if not data or data == "[DONE]":
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


BACKEND = BackendFns(request_from_chat, response_to_chat, error_to_chat, GeminiParser)
