"""Anthropic Messages <-> the chat pivot, both as a backend and as a client.

Mapping rules (README "Switching models across providers"):
system/developer messages -> ``system``; tool messages -> ``tool_result``
blocks of one user turn; ``tool_calls`` <-> ``tool_use`` blocks (ids kept);
``tool_choice`` auto/none/required/named <-> auto/none/any/tool, and
``parallel_tool_calls: false`` <-> ``disable_parallel_tool_use``;
``response_format`` json_schema/json_object -> ``output_config.format``;
``reasoning_effort`` <-> ``thinking.budget_tokens`` (see EFFORT_BUDGET);
thinking blocks ride verbatim in ``thinking_blocks``;
finish ``stop``/``length``/``tool_calls``/``content_filter`` <->
``end_turn``(+``stop_sequence``)/``max_tokens``/``tool_use``/``refusal``.
"""

from __future__ import annotations

from typing import Any

from plugins.anthropic.backend_stream import AnthropicParser
from plugins.anthropic.cache_marks import carry, mark_last, tool_mark
from plugins.anthropic.client import CLIENT as CLIENT
from plugins.anthropic.models import max_output_tokens
from plugins.anthropic.versions import fit_to_version
from plugins.anthropic.content_blocks import assistant_content_blocks, user_blocks
from plugins.openai.errors import openai_error
from plugins.translate.pivot import (
    EFFORT_BUDGET,
    BackendFns,
    Options,
    chat_usage,
    dumps,
    loads_object,
    new_id,
    now,
    parse_error_body,
)
from proxy.exchange import HOSTED_TOOL, MEANING, SAMPLING

#: max_tokens for a model of unknown limit when the client sets none (Anthropic's smallest limit)
UNKNOWN_MODEL_MAX_TOKENS = 4096
FINISH_FROM_STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                    "refusal": "content_filter", "pause_turn": "stop", "model_context_window_exceeded": "length"}
#: Anthropic error types -> (status for OpenAI-style clients, OpenAI error type)
ERROR_STATUS = {"overloaded_error": 503, "api_error": 500, "timeout_error": 504, "rate_limit_error": 429,
                "request_too_large": 413, "not_found_error": 404, "permission_error": 403,
                "authentication_error": 401, "billing_error": 402, "invalid_request_error": 400}


def anthropic_usage_to_chat(u: dict[str, Any] | None) -> dict[str, Any]:
    u = u or {}
    cached = u.get("cache_read_input_tokens") or 0
    created = u.get("cache_creation_input_tokens") or 0
    prompt = (u.get("input_tokens") or 0) + cached + created
    return chat_usage(prompt, u.get("output_tokens") or 0, cached=cached)


# ------------------------------------------------------------------ requests: chat -> anthropic

def _assistant_blocks(m: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for tb in m.get("thinking_blocks") or []:
        if isinstance(tb, dict) and tb.get("type") in ("thinking", "redacted_thinking"):
            blocks.append(dict(tb))
    blocks.extend(assistant_content_blocks(m.get("content"), opts))
    for tc in m.get("tool_calls") or []:
        fn = tc.get("function") or {}
        blocks.append({"type": "tool_use", "id": tc.get("id") or new_id("toolu_"), "name": fn.get("name", ""),
                       "input": loads_object(fn.get("arguments"))})
    return blocks


def _tool_result(m: dict[str, Any], opts: Options) -> dict[str, Any]:
    content = m.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.get("tool_call_id", "")}
    if isinstance(content, list):
        block["content"] = user_blocks(content, opts)
    else:
        block["content"] = content if content is not None else ""
    return carry(m, block)


def _messages(messages: list[dict[str, Any]], opts: Options) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)        # merge: tool results then the user's text
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        role = m.get("role")
        if role in ("system", "developer"):
            c = m.get("content")
            blocks = user_blocks(c, opts) if isinstance(c, list) else [{"type": "text", "text": c or ""}]
            mark_last(blocks, m)
            system.extend(blocks)
        elif role == "user":
            blocks = user_blocks(m.get("content"), opts)
            mark_last(blocks, m)
            add("user", blocks)
        elif role == "assistant":
            blocks = _assistant_blocks(m, opts)
            mark_last(blocks, m)
            if blocks:
                add("assistant", blocks)
        elif role == "tool":
            add("user", [_tool_result(m, opts)])
        else:
            opts.unsupported(f"messages.role.{role}", "legacy function messages are not translated")
    answer_unfinished_calls(out)
    return system, out


#: what a tool call the client never answered gets as its result
NO_OUTPUT = "(no output: the call was not completed)"


def answer_unfinished_calls(messages: list[dict[str, Any]]) -> None:
    """Anthropic's rule: every ``tool_use`` needs its ``tool_result`` at the start of the very next user
    message, or the request is refused (400). A client can drop the output (Codex compacting mid-turn),
    so an unanswered call gets an error result saying so: the provider accepts it, the model knows."""
    i = 0
    while i < len(messages):
        m = messages[i]
        ids = [b.get("id") for b in m["content"] if m["role"] == "assistant" and b.get("type") == "tool_use"]
        if ids:
            nxt = messages[i + 1] if i + 1 < len(messages) and messages[i + 1]["role"] == "user" else None
            if nxt is None:
                nxt = {"role": "user", "content": []}
                messages.insert(i + 1, nxt)
            blocks = nxt["content"]
            lead = 0                               # tool results lead the user message
            while lead < len(blocks) and blocks[lead].get("type") == "tool_result":
                lead += 1
            answered = {b.get("tool_use_id") for b in blocks[:lead]}
            blocks[lead:lead] = [{"type": "tool_result", "tool_use_id": tid, "is_error": True,
                                  "content": NO_OUTPUT} for tid in ids if tid not in answered]
        i += 1


def _tools(body: dict[str, Any], out: dict[str, Any], opts: Options) -> None:
    tools = []
    for t in body.get("tools") or []:
        if t.get("type") != "function":
            opts.unsupported(f"tools.{t.get('type')}", "only function tools translate", HOSTED_TOOL)
            continue
        fn = t.get("function") or {}
        tool: dict[str, Any] = {"name": fn.get("name", ""),
                                "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}
        if fn.get("description"):
            tool["description"] = fn["description"]
        if fn.get("strict") is True:
            tool["strict"] = True
        if (mark := tool_mark(t)) is not None:
            tool["cache_control"] = mark
        tools.append(tool)
    if tools:
        out["tools"] = tools
    choice = body.get("tool_choice")
    tc: dict[str, Any] | None = None
    if choice == "auto":
        tc = {"type": "auto"}
    elif choice == "none":
        tc = {"type": "none"}
    elif choice == "required":
        tc = {"type": "any"}
    elif isinstance(choice, dict):
        tc = {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    if body.get("parallel_tool_calls") is False and tools:
        tc = tc or {"type": "auto"}
        if tc["type"] != "none":
            tc["disable_parallel_tool_use"] = True
    if tc is not None:
        out["tool_choice"] = tc


def _unsupported_sampling(body: dict[str, Any], opts: Options) -> None:
    if (body.get("n") or 1) > 1:
        opts.unsupported("n", "Anthropic returns one message per request")
    if body.get("logprobs") or body.get("top_logprobs"):
        opts.unsupported("logprobs", "Anthropic returns no token log probabilities")
    for name in ("presence_penalty", "frequency_penalty"):
        if body.get(name):
            opts.unsupported(name, "Anthropic has no repetition penalties", SAMPLING)
    for name, kind in (("seed", SAMPLING), ("logit_bias", SAMPLING), ("verbosity", SAMPLING), ("audio", MEANING),
                       ("modalities", MEANING), ("prediction", SAMPLING), ("web_search_options", HOSTED_TOOL)):
        if body.get(name) is not None:
            opts.unsupported(name, f"Anthropic has no {name}", kind)
    temp = body.get("temperature")
    if isinstance(temp, (int, float)) and temp > 1:
        opts.unsupported("temperature", "Anthropic temperature ranges 0..1", SAMPLING)


def request_from_chat(body: dict[str, Any], model: str, opts: Options) -> dict[str, Any]:
    _unsupported_sampling(body, opts)
    system, messages = _messages(body.get("messages") or [], opts)
    out: dict[str, Any] = {"model": model, "messages": messages}
    # The reference: no max_tokens means no limit, i.e. the model's maximum output.
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or max_output_tokens(model)
    effort = body.get("reasoning_effort")
    if effort and effort != "none":
        budget = EFFORT_BUDGET.get(effort, EFFORT_BUDGET["medium"])
        if max_tokens:
            budget = min(budget, max_tokens - 1)
        else:                                # a model we know no limit of: room for the answer too
            max_tokens = budget + UNKNOWN_MODEL_MAX_TOKENS
        if budget < 1024:
            opts.unsupported("reasoning_effort", f"a thinking budget needs max_tokens above 1024 "
                                                 f"(got {max_tokens})", SAMPLING)
        else:
            out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    out["max_tokens"] = max_tokens or UNKNOWN_MODEL_MAX_TOKENS
    if system:
        out["system"] = system
    for src, dst in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k")):
        if body.get(src) is not None and not (src == "temperature" and body[src] > 1):
            out[dst] = body[src]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    _tools(body, out, opts)
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        schema = (rf.get("json_schema") or {}).get("schema") or {"type": "object"}
        out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    elif rf.get("type") == "json_object":
        out["output_config"] = {"format": {"type": "json_schema", "schema": {"type": "object"}}}
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if opts.stream:
        out["stream"] = True
    fit_to_version(out, opts)
    return out


# ------------------------------------------------------------------ responses: anthropic -> chat

def message_to_chat_message(msg: dict[str, Any]) -> dict[str, Any]:
    text, thinking, blocks, calls = [], [], [], []
    for b in msg.get("content") or []:
        kind = b.get("type")
        if kind == "text":
            text.append(b.get("text", ""))
        elif kind == "thinking":
            thinking.append(b.get("thinking", ""))
            blocks.append({"type": "thinking", "thinking": b.get("thinking", ""), "signature": b.get("signature", "")})
        elif kind == "redacted_thinking":
            blocks.append({"type": "redacted_thinking", "data": b.get("data", "")})
        elif kind == "tool_use":
            calls.append({"id": b.get("id"), "type": "function",
                          "function": {"name": b.get("name", ""), "arguments": dumps(b.get("input") or {})}})
    out: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None,
                           "refusal": None}
    if calls:
        out["tool_calls"] = calls
    if thinking:
        out["reasoning_content"] = "".join(thinking)
    if blocks:
        out["thinking_blocks"] = blocks
    return out


def response_to_chat(body: dict[str, Any], model: str) -> dict[str, Any]:
    mid = body.get("id") or new_id("msg_")
    return {"id": "chatcmpl-" + mid.removeprefix("msg_"), "object": "chat.completion", "created": now(),
            "model": model, "choices": [{"index": 0, "message": message_to_chat_message(body), "logprobs": None,
                                         "finish_reason": FINISH_FROM_STOP.get(body.get("stop_reason") or "", "stop")}],
            "usage": anthropic_usage_to_chat(body.get("usage"))}


def error_to_chat(status: int, body: bytes) -> tuple[int, dict[str, Any]]:
    parsed = parse_error_body(body)
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(err, dict):
        return (503 if status == 529 else status), openai_error(503 if status == 529 else status,
                                                                f"provider answered HTTP {status}")
    etype = err.get("type") or ""
    mapped = 503 if status == 529 or etype == "overloaded_error" else status
    return mapped, openai_error(mapped, err.get("message") or etype, code=etype or None)


BACKEND = BackendFns(request_from_chat, response_to_chat, error_to_chat, AnthropicParser)
