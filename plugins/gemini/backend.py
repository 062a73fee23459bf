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


from plugins.openai.errors import openai_error
from plugins.translate.pivot import (
    EFFORT_BUDGET,
    BackendFns,
    Options,
    loads_object,
    mime_from_url,
    parse_data_uri,
    parse_error_body,
    text_of,
)
from plugins.gemini.answers import GeminiParser, response_to_chat
from plugins.gemini.reference_parts import document_parts, reasoning_parts, text_part
from proxy.exchange import HOSTED_TOOL, MEANING, SAMPLING
from plugins.gemini.client import camel

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
            parts.append(text_part(p, opts))
        elif kind == "document":
            parts.extend(document_parts(p, opts, _parts))
        elif kind == "reasoning":
            parts.extend(reasoning_parts(p, opts))
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


def _model_parts(m: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    content = m.get("content")
    msig = (m.get("extra_content") or {}).get("google", {}).get("thought_signature")
    parts = [p for p in (_parts(content, opts) if isinstance(content, list) else []) if p != {"text": ""}]
    parts = [p for p in parts if p.get("thought")] + [p for p in parts if not p.get("thought")]
    text = content if isinstance(content, str) else ""
    if text:
        parts.append({"text": text})
    said = [p for p in parts if not p.get("thought") and "text" in p]
    if said and msig:
        said[0]["thoughtSignature"] = msig
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
            add("model", _model_parts(m, opts))
        elif role == "tool":
            tid = m.get("tool_call_id", "")
            fr: dict[str, Any] = {"name": names.get(tid, ""), "response": {"output": text_of(m.get("content"))}}
            if tid:
                fr["id"] = tid
            add("user", [{"functionResponse": fr}])
        else:
            opts.unsupported(f"messages.role.{role}", "legacy function messages are not translated")
    answer_unfinished_calls(contents)
    return system, contents


#: what a function call the client never answered gets as its response's error
NO_OUTPUT = "(no output: the call was not completed)"


def answer_unfinished_calls(contents: list[dict[str, Any]]) -> None:
    """Gemini's rule: a functionCall turn is followed right away by a user turn with one functionResponse
    per call, or the request is refused (400). A client can drop the output (Codex compacting mid-turn),
    so an unanswered call gets a response with an ``error``: the provider accepts it, the model knows."""
    i = 0
    while i < len(contents):
        calls = [p["functionCall"] for p in contents[i]["parts"]
                 if contents[i]["role"] == "model" and isinstance(p.get("functionCall"), dict)]
        if calls:
            nxt = contents[i + 1] if i + 1 < len(contents) and contents[i + 1]["role"] == "user" else None
            if nxt is None:
                nxt = {"role": "user", "parts": []}
                contents.insert(i + 1, nxt)
            parts = nxt["parts"]
            lead = 0                               # function responses lead the user turn
            while lead < len(parts) and "functionResponse" in parts[lead]:
                lead += 1
            answered = [p["functionResponse"] for p in parts[:lead]]
            missing = [c for c in calls if not _answered(c, answered)]
            parts[lead:lead] = [{"functionResponse": {**({"id": c["id"]} if c.get("id") else {}),
                                                      "name": c.get("name", ""), "response": {"error": NO_OUTPUT}}}
                                for c in missing]
        i += 1


def _answered(call: dict[str, Any], responses: list[dict[str, Any]]) -> bool:
    if call.get("id"):
        return any(r.get("id") == call["id"] for r in responses)
    return any(r.get("name") == call.get("name") for r in responses)


def _tool_config(body: dict[str, Any], opts: Options) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        opts.unsupported("parallel_tool_calls", "Gemini cannot limit a turn to one function call", SAMPLING)
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
            opts.unsupported(f"tools.{t.get('type')}", "only function tools translate", HOSTED_TOOL)
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
    _google_extras(body, out, gc)
    if gc:
        out["generationConfig"] = gc
    for name, kind in (("logit_bias", SAMPLING), ("verbosity", SAMPLING), ("audio", MEANING),
                       ("prediction", SAMPLING), ("web_search_options", HOSTED_TOOL)):
        if body.get(name) is not None:
            opts.unsupported(name, f"Gemini has no {name}", kind)
    return out


#: ``extra_body.google`` fields (Vertex's OpenAI-compatible API) that are Gemini request fields
_GOOGLE_FIELDS = ("safety_settings", "cached_content", "labels")


def _google_extras(body: dict[str, Any], out: dict[str, Any], gc: dict[str, Any]) -> None:
    """Vertex's documented way to reach Gemini-only settings from an OpenAI client:
    ``extra_body: {"google": {"thinking_config": {...}, "safety_settings": [...], ...}}``, exact."""
    extra = body.get("extra_body")
    google = extra.get("google") if isinstance(extra, dict) else None
    if not isinstance(google, dict):
        return
    if isinstance(google.get("thinking_config"), dict):
        gc["thinkingConfig"] = camel(google["thinking_config"])      # wins over reasoning_effort
    for name in _GOOGLE_FIELDS:
        if google.get(name) is not None:
            out.update(camel({name: google[name]}))


def error_to_chat(status: int, body: bytes) -> tuple[int, dict[str, Any]]:
    parsed = parse_error_body(body)
    if isinstance(parsed, list) and parsed:       # Vertex sometimes wraps the Status in a list
        parsed = parsed[0]
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(err, dict):
        return status, openai_error(status, f"provider answered HTTP {status}")
    return status, openai_error(status, err.get("message") or f"HTTP {status}", code=err.get("status"))


BACKEND = BackendFns(request_from_chat, response_to_chat, error_to_chat, GeminiParser)
