"""OpenAI Responses as the *client* side: Codex and the Responses SDK on any chat-shaped model.

Items <-> messages: ``message`` items become chat messages, consecutive
``function_call`` items join one assistant message (parallel calls), each
``function_call_output`` becomes a tool message. ``reasoning`` items carry
``encrypted_content``: for translated backends that is an ``RGC1`` carrier (common.carry)
holding the Anthropic thinking blocks (``tb``) and Gemini thought
signatures (``gsig`` by call id, ``msig``), so they come back verbatim when
the client replays the item, as Codex does with ``store: false``.
``custom`` tools (Codex ``apply_patch``) become function tools taking one
string ``input`` and come back as ``custom_tool_call`` items. A ``compaction`` item the
gateway made (plugins/openai/compaction.py) becomes a user message with its summary.
"""

from __future__ import annotations

from typing import Any

from plugins.translate.pivot import (
    ClientFns,
    Options,
    carry,
    dumps,
    gemini_signatures,
    loads_object,
    new_id,
    now,
    uncarry,
)
from plugins.openai.compaction import summary_message, summary_of
from plugins.openai.responses_stream import (
    ResponsesEmitter,
    response_object,
    usage_from_chat,
)
from proxy.errors import RequestRejected
from proxy.exchange import HOSTED_TOOL, MEANING


def _content_parts(content: Any, opts: Options) -> Any:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for p in content or []:
        kind = p.get("type")
        if kind in ("input_text", "output_text", "text"):
            part: dict[str, Any] = {"type": "text", "text": p.get("text", "")}
            if p.get("cache_control") is not None:        # an Anthropic breakpoint: kept for Anthropic
                part["cache_control"] = p["cache_control"]
            parts.append(part)
        elif kind == "refusal":
            parts.append({"type": "text", "text": p.get("refusal", "")})
        elif kind == "input_image":
            url = p.get("image_url")
            if not url:
                opts.unsupported("input.content.input_image.file_id", "uploaded files live only on OpenAI")
                continue
            img: dict[str, Any] = {"url": url}
            if p.get("detail") and p["detail"] != "auto":
                img["detail"] = p["detail"]
            parts.append({"type": "image_url", "image_url": img})
        elif kind == "input_file":
            if not p.get("file_data"):
                opts.unsupported("input.content.input_file", "only inline file_data translates")
                continue
            data = p["file_data"]
            if not data.startswith("data:"):
                data = "data:application/pdf;base64," + data
            f = {"file_data": data}
            if p.get("filename"):
                f["filename"] = p["filename"]
            parts.append({"type": "file", "file": f})
        else:
            opts.unsupported(f"input.content.{kind}", f"content type {kind!r} has no chat equivalent")
    if all(p["type"] == "text" and "cache_control" not in p for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _tools(body: dict[str, Any], chat: dict[str, Any], opts: Options) -> None:
    tools = []
    for t in body.get("tools") or []:
        kind = t.get("type")
        if kind == "function":
            fn: dict[str, Any] = {"name": t.get("name", ""), "parameters": t.get("parameters") or {"type": "object",
                                                                                               "properties": {}}}
            if t.get("description"):
                fn["description"] = t["description"]
            if t.get("strict") is True:
                fn["strict"] = True
            tool: dict[str, Any] = {"type": "function", "function": fn}
            if t.get("cache_control") is not None:
                tool["cache_control"] = t["cache_control"]
            tools.append(tool)
        elif kind == "custom":
            desc = t.get("description") or ""
            fmt = t.get("format") or {}
            if fmt.get("type") == "grammar":
                desc += f"\n\nThe input must match this {fmt.get('syntax', '')} grammar:\n{fmt.get('definition', '')}"
            tools.append({"type": "function", "function": {
                "name": t.get("name", ""), "description": desc.strip(),
                "parameters": {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}}})
        else:
            opts.unsupported(f"tools.{kind}", f"the {kind} tool runs only on OpenAI", HOSTED_TOOL)
    if tools:
        chat["tools"] = tools
    choice = body.get("tool_choice")
    if choice in ("auto", "none", "required"):
        chat["tool_choice"] = choice
    elif isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name", "")}}
    elif choice is not None:
        # a choice naming a hosted tool goes with that tool (a named function is translated above)
        opts.unsupported("tool_choice", f"tool_choice {choice.get('type') if isinstance(choice, dict) else choice!r} "
                                        "has no chat equivalent", HOSTED_TOOL if isinstance(choice, dict) else MEANING)
    if body.get("parallel_tool_calls") is False:
        chat["parallel_tool_calls"] = False


def _input_messages(body: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    gsig: dict[str, str] = {}
    pending: dict[str, Any] = {}                 # reasoning waiting for the next assistant message
    current: dict[str, Any] | None = None        # the assistant message function calls join

    def assistant() -> dict[str, Any]:
        nonlocal current, pending
        if current is None:
            current = {"role": "assistant", "content": None}
            if pending.get("text"):
                current["reasoning_content"] = pending["text"]
            if pending.get("tb"):
                current["thinking_blocks"] = pending["tb"]
            if pending.get("msig"):
                current["extra_content"] = {"google": {"thought_signature": pending["msig"]}}
            pending = {}
            messages.append(current)
        return current

    calls: set[str] = set()                      # call ids so far: a tool output must answer one
    compacted = False                            # ... unless a compaction summarised its call away
    for i, item in enumerate(items or []):
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind in ("function_call", "custom_tool_call"):
            calls.add(str(item.get("call_id", "")))
        elif kind == "compaction":
            compacted = True
        elif kind in ("function_call_output", "custom_tool_call_output") and not compacted \
                and str(item.get("call_id", "")) not in calls:
            raise RequestRejected(f"No tool call found for {kind} with call_id {item.get('call_id')!r}: "
                                  "it must answer a function_call earlier in the conversation",
                                  param=f"input[{i}].call_id")
        if kind == "message":
            role = item.get("role")
            if role == "assistant":
                current = None
                m = assistant()
                m["content"] = _content_parts(item.get("content"), opts)
                if not isinstance(m["content"], str):
                    m["content"] = "".join(p.get("text", "") for p in m["content"])
            else:
                current = None
                messages.append({"role": role if role in ("system", "developer", "user") else "user",
                                 "content": _content_parts(item.get("content"), opts)})
        elif kind == "reasoning":
            payload = uncarry(item.get("encrypted_content")) or {}
            gsig.update(payload.get("gsig") or {})
            text = "".join(s.get("text", "") for s in item.get("summary") or [])
            if payload.get("msig") and current is not None and "extra_content" not in current:
                current["extra_content"] = {"google": {"thought_signature": payload["msig"]}}
            elif payload.get("msig"):
                pending["msig"] = payload["msig"]
            if payload.get("tb"):
                pending.setdefault("tb", []).extend(payload["tb"])
            if text:
                pending["text"] = pending.get("text", "") + text
            if payload.get("tb") or text:
                current = None
        elif kind in ("function_call", "custom_tool_call"):
            m = assistant()
            args = item.get("arguments", "") if kind == "function_call" else dumps({"input": item.get("input", "")})
            m.setdefault("tool_calls", []).append({"id": item.get("call_id", ""), "type": "function",
                                                   "function": {"name": item.get("name", ""), "arguments": args}})
        elif kind == "compaction":
            summary = summary_of(item)
            if summary is None:
                opts.unsupported("input.compaction", "a compaction made by OpenAI is encrypted for OpenAI models only")
                continue
            current = None
            msg = summary_message(summary)
            messages.append({"role": "user", "content": _content_parts(msg["content"], opts)})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            current = None
            out = item.get("output")
            messages.append({"role": "tool", "tool_call_id": item.get("call_id", ""),
                             "content": out if isinstance(out, str) else _content_parts(out, opts)})
        else:
            opts.unsupported(f"input.{kind}", f"input item type {kind!r} has no chat equivalent")
    for m in messages:
        for tc in m.get("tool_calls") or []:
            if tc["id"] in gsig:
                tc["extra_content"] = {"google": {"thought_signature": gsig[tc["id"]]}}
    return messages


def request_to_chat(body: dict[str, Any], opts: Options) -> dict[str, Any]:
    messages = _input_messages(body, opts)
    if body.get("instructions"):
        messages.insert(0, {"role": "system", "content": body["instructions"]})
    chat: dict[str, Any] = {"messages": messages}
    _tools(body, chat, opts)
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "prompt_cache_key",
                 "prompt_cache_retention"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("top_logprobs"):
        chat["logprobs"] = True
        chat["top_logprobs"] = body["top_logprobs"]
    effort = (body.get("reasoning") or {}).get("effort")
    if effort:
        chat["reasoning_effort"] = effort
    text = body.get("text") or {}
    fmt = text.get("format") or {}
    if fmt.get("type") == "json_schema":
        js: dict[str, Any] = {"name": fmt.get("name") or "response", "schema": fmt.get("schema") or {}}
        if fmt.get("strict") is not None:
            js["strict"] = fmt["strict"]
        chat["response_format"] = {"type": "json_schema", "json_schema": js}
    elif fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    if text.get("verbosity"):
        chat["verbosity"] = text["verbosity"]
    # previous_response_id is not among these: the gateway has put that conversation in the input
    # (plugins/openai/responses_store.py, or a WebSocket's own memory) and only echoes the id.
    for name in ("conversation", "prompt", "max_tool_calls"):
        if body.get(name):
            opts.unsupported(name, f"{name} is kept only by OpenAI")
    if body.get("background"):
        opts.unsupported("background", "background responses are kept only by OpenAI")
    return chat


def custom_tool_names(request: dict[str, Any]) -> set[str]:
    return {t.get("name", "") for t in request.get("tools") or [] if t.get("type") == "custom"}


def output_items(msg: dict[str, Any], custom: set[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    payload = gemini_signatures(msg)
    if msg.get("thinking_blocks"):
        payload = {"tb": msg["thinking_blocks"], **payload}
    if msg.get("reasoning_content") or payload:
        rc = msg.get("reasoning_content")
        item: dict[str, Any] = {"id": new_id("rs_"), "type": "reasoning",
                                "summary": [{"type": "summary_text", "text": rc}] if rc else []}
        if payload:                          # optional, never null
            item["encrypted_content"] = carry(payload)
        items.append(item)
    content = msg.get("content")
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
    if text or not msg.get("tool_calls"):
        items.append({"id": new_id("msg_"), "type": "message", "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": text or "", "annotations": [], "logprobs": []}]})
    for tc in msg.get("tool_calls") or []:
        fn = tc.get("function") or {}
        if fn.get("name") in custom:
            items.append({"id": new_id("ctc_"), "type": "custom_tool_call", "status": "completed",
                          "call_id": tc.get("id", ""), "name": fn["name"],
                          "input": str(loads_object(fn.get("arguments")).get("input", ""))})
        else:
            items.append({"id": new_id("fc_"), "type": "function_call", "status": "completed",
                          "call_id": tc.get("id") or new_id("call_"), "name": fn.get("name", ""),
                          "arguments": fn.get("arguments") or "{}"})
    return items


def response_from_chat(chat: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
    choice = (chat.get("choices") or [{}])[0]
    items = output_items(choice.get("message") or {}, custom_tool_names(request))
    finish = choice.get("finish_reason")
    status, details = "completed", None
    if finish == "length":
        status, details = "incomplete", {"reason": "max_output_tokens"}
    elif finish == "content_filter":
        status, details = "incomplete", {"reason": "content_filter"}
    resp = response_object(new_id("resp_"), now(), model, request, status, items, usage_from_chat(chat.get("usage")))
    resp["incomplete_details"] = details
    return resp


def error_from_chat(status: int, error: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return status, error


CLIENT = ClientFns(request_to_chat, response_from_chat, error_from_chat,
                   lambda model, request: ResponsesEmitter(model, request, custom_tool_names(request)))
