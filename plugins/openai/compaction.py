"""Compaction for models that have none: ``/responses/compact`` answered by the served model itself.

OpenAI models compact natively (the route passes through). For every other model the
gateway sends the model one summarisation request through the normal relay, so it is
metered, priced and written to the ledger like any request: :data:`COMPACTION_PROMPT` as
the system message and the conversation as a plain transcript in one user message (plain
text, so open tool calls, tool results and reasoning need no tool definitions and any
provider accepts it). The answer becomes a ``response.compaction`` object whose ``output``
holds the user's messages followed by one ``compaction`` item; its ``encrypted_content``
is an ``RGC1`` carrier (base64, not encrypted) holding the summary. Sent back as ``input``,
that item becomes a user message with the summary (:func:`summary_message`) on translated
routes and on OpenAI passthrough routes alike, so a new chain can start from it.
"""

from __future__ import annotations

from typing import Any, NoReturn

from plugins.openai.responses_stream import usage_from_chat
from plugins.translate.pivot import ClientFns, Options, carry, dumps, new_id, now, uncarry

#: the system prompt of the summarisation request (README: "Compaction")
COMPACTION_PROMPT = """\
You are compacting a conversation between a user and an AI assistant. The assistant will continue \
the task in a fresh context that holds only the user's own messages and your summary, so the summary \
must carry everything else the assistant needs.

Write a faithful, dense summary of the conversation so far. Include:
- the user's goals, requests, preferences and constraints;
- decisions taken and why, and approaches that were tried and rejected;
- the state of the work: what is done, what remains, and the next step;
- every tool call that matters, with its name, its key arguments and what its result showed; list \
tool calls that are still open (no result yet) with their call ids;
- facts, names, identifiers, file paths, code, numbers and error messages the rest of the task \
needs, verbatim where exactness matters.

Do not invent anything that is not in the conversation, do not address the user, and do not \
continue the task yourself. Answer with the summary only."""

#: the carrier key of a compaction summary
SUMMARY_KEY = "compaction"
SUMMARY_PREFIX = "Summary of the conversation so far (compacted by the gateway):\n\n"


def compaction_item(summary: str) -> dict[str, Any]:
    return {"id": new_id("cmp_"), "type": "compaction", "encrypted_content": carry({SUMMARY_KEY: summary})}


def summary_of(item: dict[str, Any]) -> str | None:
    """The summary a gateway-made compaction item carries; None for anyone else's."""
    payload = uncarry(item.get("encrypted_content"))
    summary = payload.get(SUMMARY_KEY) if payload else None
    return summary if isinstance(summary, str) else None


def summary_message(summary: str) -> dict[str, Any]:
    """The input message a gateway-made compaction item stands for."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": SUMMARY_PREFIX + summary}]}


def replace_gateway_compactions(items: Any) -> Any:
    """*items* with each gateway-made compaction item as its summary message (the same list
    when there is none)."""
    if not isinstance(items, list) or not any(isinstance(i, dict) and i.get("type") == "compaction" for i in items):
        return items
    out = []
    for item in items:
        summary = summary_of(item) if isinstance(item, dict) and item.get("type") == "compaction" else None
        out.append(item if summary is None else summary_message(summary))
    return out


def as_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [i for i in value or [] if isinstance(i, dict)]


# ---------------------------------------------------------------- the summarisation request

def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for p in content or []:
        kind = p.get("type")
        if kind in ("input_text", "output_text", "text", "summary_text"):
            parts.append(p.get("text", ""))
        elif kind == "refusal":
            parts.append(p.get("refusal", ""))
        elif kind == "input_file":
            parts.append(f"[file {p.get('filename') or p.get('file_id') or ''}]".replace(" ]", "]"))
        elif kind != "input_image":
            parts.append(f"[{kind} content]")
    return "\n".join(parts)


def _images_of(content: Any) -> list[dict[str, Any]]:
    return [{"type": "image_url", "image_url": {"url": p["image_url"]}} for p in content or []
            if isinstance(p, dict) and p.get("type") == "input_image" and p.get("image_url")]


def _entry(item: dict[str, Any], opts: Options) -> str:
    kind = item.get("type") or ("message" if "role" in item else "")
    if kind == "message":
        return f"[{item.get('role', 'user')}]\n{_text_of(item.get('content'))}"
    if kind in ("function_call", "custom_tool_call"):
        args = item.get("arguments") if kind == "function_call" else item.get("input")
        args = args if isinstance(args, str) else dumps(args)
        return f"[assistant called tool {item.get('name', '')} (call id {item.get('call_id', '')})]\n{args}"
    if kind in ("function_call_output", "custom_tool_call_output"):
        out = item.get("output")
        text = out if isinstance(out, str) else _text_of(out) if isinstance(out, list) else dumps(out)
        return f"[result of tool call {item.get('call_id', '')}]\n{text}"
    if kind == "reasoning":
        text = _text_of(item.get("summary"))
        return f"[assistant reasoning]\n{text}" if text else ""
    if kind == "compaction":
        summary = summary_of(item)
        if summary is None:
            opts.unsupported("input.compaction", "a compaction made by OpenAI is encrypted for OpenAI models only")
            return ""
        return f"[summary of the earlier conversation]\n{summary}"
    return f"[{kind} item]"


def request_to_chat(body: dict[str, Any], opts: Options) -> dict[str, Any]:
    if body.get("previous_response_id"):
        opts.unsupported("previous_response_id", "no stored conversation to compact")
    items = as_items(body.get("input"))
    entries = [f"[system instructions]\n{body['instructions']}"] if body.get("instructions") else []
    entries += [e for e in (_entry(i, opts) for i in items) if e]
    answered = {i.get("call_id") for i in items if i.get("type") in ("function_call_output", "custom_tool_call_output")}
    open_calls = [f"{i.get('name', '')} (call id {i.get('call_id', '')})" for i in items
                  if i.get("type") in ("function_call", "custom_tool_call") and i.get("call_id") not in answered]
    text = "The conversation to summarise:\n\n<conversation>\n" + "\n\n".join(entries) + "\n</conversation>"
    if open_calls:
        text += "\n\nTool calls still waiting for their result: " + ", ".join(open_calls)
    images = [img for i in items if i.get("type", "message") == "message" for img in _images_of(i.get("content"))]
    content: Any = [{"type": "text", "text": text}, *images] if images else text
    return {"messages": [{"role": "system", "content": COMPACTION_PROMPT}, {"role": "user", "content": content}]}


# ---------------------------------------------------------------- the compacted response

def _output_part(part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        return {"type": "input_text", "text": str(part)}
    if part.get("type") == "input_image":
        return {**part, "detail": part.get("detail") or "auto"}
    return part


def _kept_message(item: dict[str, Any]) -> dict[str, Any]:
    """A user message of the input as an output item (ids and statuses are required there)."""
    content = item.get("content")
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else \
        [_output_part(p) for p in content or []]
    return {"id": item.get("id") or new_id("msg_"), "type": "message", "status": "completed", "role": "user",
            "content": parts}


def response_from_chat(chat: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
    message = ((chat.get("choices") or [{}])[0].get("message") or {})
    content = message.get("content")
    summary = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
    kept = [_kept_message(i) for i in as_items(request.get("input"))
            if (i.get("type") or "message") == "message" and i.get("role") == "user"
            and not _is_summary_message(i)]
    return {"id": new_id("resp_"), "object": "response.compaction", "created_at": now(),
            "output": [*kept, compaction_item(summary.strip())], "usage": usage_from_chat(chat.get("usage"))}


def _is_summary_message(item: dict[str, Any]) -> bool:
    """A summary an earlier compaction left: the new summary replaces it, so it is not kept."""
    content = item.get("content")
    first = content[0] if isinstance(content, list) and content else {}
    return isinstance(first, dict) and str(first.get("text", "")).startswith(SUMMARY_PREFIX)


def error_from_chat(status: int, error: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return status, error


def _no_stream(model: str, request: dict[str, Any]) -> NoReturn:
    raise NotImplementedError("compaction answers are never streamed")


CLIENT = ClientFns(request_to_chat, response_from_chat, error_from_chat, _no_stream)
