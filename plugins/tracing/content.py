"""Prompt and completion content for spans (opt-in): the GenAI conventions' message shapes
(``gen_ai.input.messages``, ``gen_ai.output.messages``, ``gen_ai.system_instructions``), as JSON
strings, redacted by the same rules as payload logging (the endpoint's ``payload_logging.redact``:
JSON paths over the client's body, then regexes over the text) and capped.

Every wire format maps to ``[{"role", "parts": [{"type": "text", "content"}, ...]}]``; tool calls
and their results become ``tool_call`` / ``tool_call_response`` parts; other parts keep only their type.
"""

from __future__ import annotations

from typing import Any

import orjson

from plugins.payloads.redact import cap, parse_path, redact_path, redact_text
from plugins.tracing import conventions as sc

Parts = list[dict[str, Any]]
Messages = list[dict[str, Any]]


def _text(content: Any) -> Parts:
    return [{"type": "text", "content": content}] if isinstance(content, str) and content else []


def _blocks(content: Any) -> Parts:
    """OpenAI / Anthropic / Responses content: a string or a list of typed blocks."""
    if not isinstance(content, list):
        return _text(content)
    parts: Parts = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type", "")
        if kind in ("text", "input_text", "output_text"):
            parts += _text(block.get("text"))
        elif kind == "tool_use":
            parts.append({"type": "tool_call", "id": block.get("id"), "name": block.get("name"),
                          "arguments": block.get("input")})
        elif kind == "tool_result":
            parts.append({"type": "tool_call_response", "id": block.get("tool_use_id"),
                          "response": block.get("content")})
        else:
            parts.append({"type": kind or "unknown"})        # images, files: never their bytes
    return parts


def _openai_chat(body: dict[str, Any]) -> tuple[Parts, Messages]:
    messages: Messages = []
    for m in body.get("messages") or ():
        parts = _blocks(m.get("content"))
        for call in m.get("tool_calls") or ():
            function = call.get("function") or {}
            parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                          "arguments": function.get("arguments")})
        if m.get("role") == "tool":
            parts = [{"type": "tool_call_response", "id": m.get("tool_call_id"), "response": m.get("content")}]
        messages.append({"role": m.get("role", "user"), "parts": parts})
    return [], messages


def _anthropic(body: dict[str, Any]) -> tuple[Parts, Messages]:
    return _blocks(body.get("system")), [
        {"role": m.get("role", "user"), "parts": _blocks(m.get("content"))} for m in body.get("messages") or ()]


def _gemini_parts(parts: Any) -> Parts:
    out: Parts = []
    for part in parts or ():
        if "text" in part:
            out += _text(part["text"])
        elif "functionCall" in part:
            call = part["functionCall"]
            out.append({"type": "tool_call", "id": call.get("id"), "name": call.get("name"),
                        "arguments": call.get("args")})
        elif "functionResponse" in part:
            result = part["functionResponse"]
            out.append({"type": "tool_call_response", "id": result.get("id"), "response": result.get("response")})
        else:
            out.append({"type": next(iter(part), "unknown")})
    return out


def _gemini(body: dict[str, Any]) -> tuple[Parts, Messages]:
    system = _gemini_parts((body.get("systemInstruction") or {}).get("parts"))
    return system, [{"role": "assistant" if c.get("role") == "model" else c.get("role", "user"),
                     "parts": _gemini_parts(c.get("parts"))} for c in body.get("contents") or ()]


def _responses(body: dict[str, Any]) -> tuple[Parts, Messages]:
    items = body.get("input")
    if isinstance(items, str):
        return _text(body.get("instructions")), [{"role": "user", "parts": _text(items)}]
    messages: Messages = []
    for item in items or ():
        kind = item.get("type", "message")
        if kind == "function_call":
            messages.append({"role": "assistant", "parts": [{"type": "tool_call", "id": item.get("call_id"),
                                                             "name": item.get("name"),
                                                             "arguments": item.get("arguments")}]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "parts": [{"type": "tool_call_response", "id": item.get("call_id"),
                                                        "response": item.get("output")}]})
        elif kind == "message":
            messages.append({"role": item.get("role", "user"), "parts": _blocks(item.get("content"))})
    return _text(body.get("instructions")), messages


def _completions(body: dict[str, Any]) -> tuple[Parts, Messages]:
    prompt = body.get("prompt")
    prompts = prompt if isinstance(prompt, list) else [prompt]
    return [], [{"role": "user", "parts": _text(p)} for p in prompts if isinstance(p, str)]


_INPUTS = {"openai.chat": _openai_chat, "anthropic.messages": _anthropic, "gemini.generate": _gemini,
           "openai.responses": _responses, "openai.completions": _completions}


class Redaction:
    """The endpoint's payload-logging redaction rules and the telemetry cap."""

    def __init__(self, redact: Any, max_bytes: int) -> None:
        self.paths = tuple(getattr(redact, "json_paths", ()) or ())
        self.patterns = tuple(getattr(redact, "patterns", ()) or ())
        self.max_bytes = max_bytes

    def body(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.paths:
            return body
        copy: dict[str, Any] = orjson.loads(orjson.dumps(body))      # never touch the live body
        for path in self.paths:
            redact_path(copy, parse_path(path))
        return copy

    def text(self, value: Any) -> str:
        """*value* as JSON, redacted (before any cut: a secret cut in half would escape the regexes),
        then within the cap: long texts are shortened so the JSON stays whole."""
        text = redact_text(orjson.dumps(value).decode(), self.patterns)
        if len(text.encode()) <= self.max_bytes:
            return text
        try:
            shortened = orjson.dumps(_shorten(orjson.loads(text), self.max_bytes)).decode()
        except orjson.JSONDecodeError:            # a pattern matched across JSON syntax
            shortened = text
        return cap(shortened, self.max_bytes)[0]


def _shorten(value: Any, max_bytes: int) -> Any:
    """Every text part's content cut to an equal share of *max_bytes*, marked with an ellipsis."""
    holders = [part for message in value if isinstance(message, dict)
               for part in (message.get("parts") or [message]) if isinstance(part, dict)
               and isinstance(part.get("content"), str)]
    share = max(16, max_bytes // (2 * max(1, len(holders))))
    for part in holders:
        if len(part["content"]) > share:
            part["content"] = part["content"][:share] + "…"
    return value


def input_attributes(client_api: str, body: dict[str, Any], redaction: Redaction) -> dict[str, str]:
    """gen_ai.input.messages and gen_ai.system_instructions of a client's body (redacted), or {}."""
    read = _INPUTS.get(client_api)
    if read is None:
        return {}
    system, messages = read(redaction.body(body))
    found = {sc.INPUT_MESSAGES: redaction.text(messages)}
    if system:
        found[sc.SYSTEM_INSTRUCTIONS] = redaction.text(system)
    return found


def output_attribute(texts: dict[int, str], finishes: dict[int, str], redaction: Redaction) -> dict[str, str]:
    """gen_ai.output.messages from the text per choice, or {} when there was none."""
    indexes = sorted(set(texts) | set(finishes))
    if not indexes:
        return {}
    messages = [{"role": "assistant", "parts": _text(texts.get(i, "")), "finish_reason": finishes.get(i, "error")}
                for i in indexes]
    return {sc.OUTPUT_MESSAGES: redaction.text(messages)}
