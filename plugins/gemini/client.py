"""Gemini generateContent as the *client* side: Gemini CLI and google-genai on any model.

``functionCall`` parts without an ``id`` get stable ids (``call_<turn>_<k>``)
so the ``functionResponse`` parts of the next user turn pair with them by
order and name. Thought signatures ride in ``extra_content`` and come back on
the parts they belong to. The stream is ``data: {...}\\r\\n\\r\\n``; function
calls are sent whole (Gemini never streams partial arguments).
"""

from __future__ import annotations

from typing import Any

from plugins.gemini.errors import gemini_status_name
from plugins.gemini.schema import proto_integers
from plugins.translate.pivot import (
    ClientFns,
    Options,
    budget_to_effort,
    carry,
    data_uri,
    dumps,
    loads_object,
    new_id,
    uncarry,
)
from proxy import sse
from proxy.exchange import HOSTED_TOOL

FINISH_TO_GEMINI = {"stop": "STOP", "tool_calls": "STOP", "function_call": "STOP", "length": "MAX_TOKENS",
                    "content_filter": "SAFETY"}


#: fields whose values are user data (schemas, arguments), never renamed
_OPAQUE = {"parametersJsonSchema", "parameters", "responseJsonSchema", "responseSchema", "args", "response",
           "data", "text"}


def camel(value: Any) -> Any:
    """Proto JSON accepts snake_case field names too (google-genai sends ``mime_type``,
    ``parameters_json_schema``, ``thinking_budget``): normalise to camelCase."""
    if isinstance(value, list):
        return [camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if "_" in k:
            head, *rest = k.split("_")
            k = head + "".join(w[:1].upper() + w[1:] for w in rest)
        out[k] = v if k in _OPAQUE else camel(v)
    return out


def _schema(s: Any) -> Any:
    """An OpenAPI-subset ``Schema`` (``type: OBJECT``) -> JSON Schema (lower-case types)."""
    if isinstance(s, list):
        return [_schema(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {k: _schema(v) for k, v in s.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def usage_from_chat(u: dict[str, Any] | None) -> dict[str, Any]:
    u = u or {}
    reasoning = (u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    out = {"promptTokenCount": u.get("prompt_tokens") or 0,
           "candidatesTokenCount": max(0, (u.get("completion_tokens") or 0) - reasoning),
           "totalTokenCount": (u.get("total_tokens")
                               or (u.get("prompt_tokens") or 0) + (u.get("completion_tokens") or 0))}
    if reasoning:
        out["thoughtsTokenCount"] = reasoning
    if cached:
        out["cachedContentTokenCount"] = cached
    return out


# ------------------------------------------------------------------ requests: gemini -> chat

def _media(part: dict[str, Any]) -> dict[str, Any]:
    if "inlineData" in part:
        b = part["inlineData"]
        mime, url = b.get("mimeType", "application/octet-stream"), data_uri(b.get("mimeType", ""), b.get("data", ""))
    else:
        f = part["fileData"]
        mime, url = f.get("mimeType", ""), f.get("fileUri", "")
    if mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": url}}
    if "fileData" in part:                     # a file by URL: the reference's document with a url source
        return {"type": "document", "source": {"type": "url", "url": url}}
    return {"type": "file", "file": {"file_data": url}}


def _messages(body: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    si = body.get("systemInstruction")
    if isinstance(si, dict):
        text = "".join(p.get("text", "") for p in si.get("parts") or [])
        if text:
            out.append({"role": "system", "content": text})
    elif isinstance(si, str) and si:
        out.append({"role": "system", "content": si})
    pending: list[tuple[str, str]] = []           # (id, name) of the last model turn's calls
    for turn, c in enumerate(body.get("contents") or []):
        parts = c.get("parts") or []
        if c.get("role") == "model":
            out.append(_model_message(parts, turn, pending))
            continue
        user: list[dict[str, Any]] = []
        for p in parts:
            if "functionResponse" in p:
                fr = p["functionResponse"]
                tid = fr.get("id") or _pair_id(pending, fr.get("name", ""))
                resp = fr.get("response")
                content = resp["output"] if isinstance(resp, dict) and set(resp) == {"output"} and \
                    isinstance(resp["output"], str) else dumps(resp if resp is not None else {})
                out.append({"role": "tool", "tool_call_id": tid, "content": content})
            elif "text" in p:
                if not p.get("thought"):
                    user.append({"type": "text", "text": p["text"]})
            elif "inlineData" in p or "fileData" in p:
                user.append(_media(p))
            else:
                opts.unsupported("contents.parts." + next(iter(p), "?"), "this part kind has no chat equivalent")
        if user:
            out.append({"role": "user", "content": user[0]["text"] if len(user) == 1 and user[0]["type"] == "text"
                        else user})
    return out


def _pair_id(pending: list[tuple[str, str]], name: str) -> str:
    for i, (tid, n) in enumerate(pending):
        if n == name:
            pending.pop(i)
            return tid
    return new_id("call_")


def _model_message(parts: list[dict[str, Any]], turn: int, pending: list[tuple[str, str]]) -> dict[str, Any]:
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    msig = None
    pending.clear()
    for p in parts:
        carried = uncarry(p.get("thoughtSignature"))
        if carried is not None:                      # Anthropic thinking blocks we packed (see below)
            blocks.extend(carried.get("tb") or [])
        if "functionCall" in p:
            fc = p["functionCall"]
            tid = fc.get("id") or f"call_{turn}_{len(calls)}"
            tc: dict[str, Any] = {"id": tid, "type": "function",
                                  "function": {"name": fc.get("name", ""), "arguments": dumps(fc.get("args") or {})}}
            if p.get("thoughtSignature") and carried is None:
                tc["extra_content"] = {"google": {"thought_signature": p["thoughtSignature"]}}
            calls.append(tc)
            pending.append((tid, fc.get("name", "")))
        elif "text" in p and not p.get("thought"):
            text.append(p["text"])
            if carried is None:
                msig = p.get("thoughtSignature") or msig
    m: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if blocks:
        m["thinking_blocks"] = blocks
    if calls:
        m["tool_calls"] = calls
    if msig:
        m["extra_content"] = {"google": {"thought_signature": msig}}
    return m


def request_to_chat(body: dict[str, Any], opts: Options) -> dict[str, Any]:
    body = proto_integers(camel(body))
    chat: dict[str, Any] = {"messages": _messages(body, opts)}
    tools: list[dict[str, Any]] = []
    for t in body.get("tools") or []:
        for d in t.get("functionDeclarations") or []:
            fn: dict[str, Any] = {"name": d.get("name", "")}
            if d.get("description"):
                fn["description"] = d["description"]
            params = d.get("parametersJsonSchema") or _schema(d.get("parameters"))
            if params:
                fn["parameters"] = params
            tools.append({"type": "function", "function": fn})
        for k in t:
            if k != "functionDeclarations":
                opts.unsupported(f"tools.{k}", "Google server-side tools run only on Gemini", HOSTED_TOOL)
    if tools:
        chat["tools"] = tools
    fcc = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode, allowed = fcc.get("mode"), fcc.get("allowedFunctionNames") or []
    if mode == "AUTO":
        chat["tool_choice"] = "auto"
    elif mode == "NONE":
        chat["tool_choice"] = "none"
    elif mode in ("ANY", "VALIDATED"):
        if len(allowed) == 1:
            chat["tool_choice"] = {"type": "function", "function": {"name": allowed[0]}}
        else:
            chat["tool_choice"] = "required"
            if allowed and set(allowed) != {t["function"]["name"] for t in tools}:
                opts.unsupported("toolConfig.functionCallingConfig.allowedFunctionNames",
                                 "chat can force one named tool or any tool, not a subset")
    gc = body.get("generationConfig") or {}
    for src, dst in (("temperature", "temperature"), ("topP", "top_p"), ("topK", "top_k"), ("seed", "seed"),
                     ("presencePenalty", "presence_penalty"), ("frequencyPenalty", "frequency_penalty"),
                     ("maxOutputTokens", "max_tokens"), ("candidateCount", "n")):
        if gc.get(src) is not None:
            chat[dst] = gc[src]
    if gc.get("stopSequences"):
        chat["stop"] = list(gc["stopSequences"])
    if gc.get("responseLogprobs"):
        chat["logprobs"] = True
        if gc.get("logprobs"):
            chat["top_logprobs"] = gc["logprobs"]
    if gc.get("responseMimeType") == "application/json":
        schema = gc.get("responseJsonSchema") or _schema(gc.get("responseSchema"))
        chat["response_format"] = ({"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
                                   if schema else {"type": "json_object"})
    elif gc.get("responseMimeType") not in (None, "text/plain"):
        opts.unsupported("generationConfig.responseMimeType", f"{gc['responseMimeType']} output has no chat mode")
    tc = gc.get("thinkingConfig") or {}
    if tc.get("thinkingLevel") and tc["thinkingLevel"] != "THINKING_LEVEL_UNSPECIFIED":
        chat["reasoning_effort"] = tc["thinkingLevel"].lower()
    elif isinstance(tc.get("thinkingBudget"), int) and tc["thinkingBudget"] >= 0:
        chat["reasoning_effort"] = budget_to_effort(tc["thinkingBudget"])
    for name in ("safetySettings", "cachedContent"):
        if body.get(name):
            opts.unsupported(name, f"{name} exists only on Gemini")
    for name in ("responseModalities", "speechConfig", "imageConfig"):
        if gc.get(name) and gc[name] != ["TEXT"]:
            opts.unsupported(f"generationConfig.{name}", "only text output translates")
    return chat


# ------------------------------------------------------------------ responses: chat -> gemini

def _sig(obj: dict[str, Any]) -> str | None:
    return (obj.get("extra_content") or {}).get("google", {}).get("thought_signature")


def message_parts(msg: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if msg.get("reasoning_content"):
        parts.append({"text": msg["reasoning_content"], "thought": True})
    content = msg.get("content")
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
    if text:
        part: dict[str, Any] = {"text": text}
        if _sig(msg):
            part["thoughtSignature"] = _sig(msg)
        parts.append(part)
    for tc in msg.get("tool_calls") or []:
        fn = tc.get("function") or {}
        part = {"functionCall": {"id": tc.get("id") or new_id("call_"), "name": fn.get("name", ""),
                                 "args": loads_object(fn.get("arguments"))}}
        if _sig(tc):
            part["thoughtSignature"] = _sig(tc)
        parts.append(part)
    pack_thinking(parts, msg.get("thinking_blocks"))
    return parts


def pack_thinking(parts: list[dict[str, Any]], blocks: Any) -> None:
    """Anthropic thinking blocks ride as the thought signature of the first function call (Gemini
    clients replay those verbatim; thought parts themselves are not replayed)."""
    if not blocks:
        return
    for part in parts:
        if "functionCall" in part and "thoughtSignature" not in part:
            part["thoughtSignature"] = carry({"tb": blocks})
            return


def response_from_chat(chat: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
    cands = []
    for ch in chat.get("choices") or []:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": message_parts(ch.get("message") or {})},
                                "finishReason": FINISH_TO_GEMINI.get(ch.get("finish_reason") or "stop", "OTHER"),
                                "index": ch.get("index", 0)}
        lp = _logprobs(ch.get("logprobs"))
        if lp:
            cand["logprobsResult"] = lp
        cands.append(cand)
    return {"candidates": cands, "usageMetadata": usage_from_chat(chat.get("usage")), "modelVersion": model,
            "responseId": str(chat.get("id") or new_id("")).removeprefix("chatcmpl-")}


def _logprobs(lp: dict[str, Any] | None) -> dict[str, Any] | None:
    if not lp or not lp.get("content"):
        return None
    return {"chosenCandidates": [{"token": t.get("token", ""), "logProbability": t.get("logprob", 0.0)}
                                 for t in lp["content"]],
            "topCandidates": [{"candidates": [{"token": x.get("token", ""), "logProbability": x.get("logprob", 0.0)}
                                              for x in t.get("top_logprobs") or []]} for t in lp["content"]]}


def error_from_chat(status: int, error: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    err = error["error"] if isinstance(error.get("error"), dict) else {}
    if status == 529:
        status = 503
    return status, {"error": {"code": status, "message": err.get("message") or f"HTTP {status}",
                              "status": gemini_status_name(status)}}


class GeminiEmitter:
    """Chat chunks -> Gemini ``alt=sse`` chunks; tool calls buffered until whole."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.final: dict[str, Any] | None = None
        self._id = new_id("")
        self._calls: dict[int, dict[int, dict[str, Any]]] = {}     # candidate -> tool index -> call
        self._finish: dict[int, str] = {}
        self._usage: dict[str, Any] | None = None
        self._failed = False
        self._blocks: list[dict[str, Any]] = []

    def _out(self, cands: list[dict[str, Any]], usage: bool = False) -> bytes:
        body: dict[str, Any] = {"candidates": cands, "modelVersion": self.model, "responseId": self._id}
        if usage:
            body["usageMetadata"] = usage_from_chat(self._usage)
        return sse.data_crlf(body)

    def feed(self, chunks: list[dict[str, Any]]) -> bytes:
        out = []
        for c in chunks:
            if "error" in c:
                self._failed = True
                status = 503 if c["error"].get("type") == "server_error" else 400
                out.append(sse.data_crlf(error_from_chat(status, {"error": c["error"]})[1]))
                continue
            if c.get("id"):
                self._id = str(c["id"]).removeprefix("chatcmpl-")
            if c.get("usage"):
                self._usage = c["usage"]
            for ch in c.get("choices") or []:
                i, d = ch.get("index", 0), ch.get("delta") or {}
                parts: list[dict[str, Any]] = []
                if d.get("reasoning_content"):
                    parts.append({"text": d["reasoning_content"], "thought": True})
                self._blocks.extend(d.get("thinking_blocks") or [])
                if d.get("content"):
                    part: dict[str, Any] = {"text": d["content"]}
                    if _sig(d):
                        part["thoughtSignature"] = _sig(d)
                    parts.append(part)
                for tc in d.get("tool_calls") or []:
                    calls = self._calls.setdefault(i, {})
                    call = calls.setdefault(tc.get("index", 0), {"id": None, "name": "", "args": [], "sig": None})
                    fn = tc.get("function") or {}
                    call["id"] = tc.get("id") or call["id"]
                    call["name"] += fn.get("name") or ""
                    call["args"].append(fn.get("arguments") or "")
                    call["sig"] = _sig(tc) or call["sig"]
                if ch.get("finish_reason"):
                    self._finish[i] = ch["finish_reason"]
                if parts:
                    out.append(self._out([{"content": {"role": "model", "parts": parts}, "index": i}]))
        return b"".join(out)

    def finish(self) -> bytes:
        if self._failed:
            return b""
        cands = []
        for i in sorted(set(self._finish) | set(self._calls) or {0}):
            parts = []
            for _k, call in sorted(self._calls.get(i, {}).items()):
                part: dict[str, Any] = {"functionCall": {"id": call["id"] or new_id("call_"), "name": call["name"],
                                                         "args": loads_object("".join(call["args"]))}}
                if call["sig"]:
                    part["thoughtSignature"] = call["sig"]
                parts.append(part)
            if i == 0:
                pack_thinking(parts, self._blocks)
            cands.append({"content": {"role": "model", "parts": parts or [{"text": ""}]},
                          "finishReason": FINISH_TO_GEMINI.get(self._finish.get(i, "stop"), "OTHER"), "index": i})
        return self._out(cands, usage=True)


CLIENT = ClientFns(request_to_chat, response_from_chat, error_from_chat,
                   lambda model, request: GeminiEmitter(model))
