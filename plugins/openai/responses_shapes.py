"""The reference's Responses shapes rewritten to OpenAI's, once, before anything reads them.

The reference (Databricks Foundation Model REST API) writes some Responses fields
the way Chat Completions does; OpenAI's Responses API takes only its own shapes.
Rewriting them in the request body itself, right after validation, means the
OpenAI passthrough, the gateway's store and every translation see one shape:

- a function tool ``{"type": "function", "function": {name, description,
  parameters, strict}}`` becomes the flat ``{"type": "function", "name", ...}``;
- ``tool_choice`` ``{"type": "function", "function": {"name"}}`` becomes
  ``{"type": "function", "name"}``;
- ``text.format`` ``{"type": "json_schema", "json_schema": {name, schema, ...}}``
  becomes ``{"type": "json_schema", "name", "schema", ...}``;
- ``function_call_output.output`` given as a JSON object becomes its JSON text
  (OpenAI takes a string or a list of content blocks) and ``function_call.arguments``
  given as an object becomes its JSON text.
"""

from __future__ import annotations

from typing import Any

import orjson

_FUNCTION_KEYS = ("name", "description", "parameters", "strict")


def _flat_tool(tool: Any) -> Any:
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
        return tool
    inner = tool["function"]
    flat = {k: v for k, v in tool.items() if k != "function"}
    for key in _FUNCTION_KEYS:
        if key in inner and key not in flat:
            flat[key] = inner[key]
    return flat


def _flat_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        return {"type": "function", "name": choice["function"].get("name")}
    return choice


def _flat_format(text: Any) -> Any:
    if not isinstance(text, dict):
        return text
    fmt = text.get("format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("json_schema"), dict):
        return text
    flat = {k: v for k, v in fmt.items() if k != "json_schema"}
    for key, value in fmt["json_schema"].items():
        flat.setdefault(key, value)
    return {**text, "format": flat}


def _flat_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    kind = item.get("type")
    if kind == "function_call_output" and isinstance(item.get("output"), dict):
        return {**item, "output": orjson.dumps(item["output"]).decode()}
    if kind == "function_call" and isinstance(item.get("arguments"), dict):
        return {**item, "arguments": orjson.dumps(item["arguments"]).decode()}
    return item


def to_openai_shapes(body: dict[str, Any]) -> None:
    """Rewrite the reference's shapes in *body* (a validated Responses request) in place."""
    if isinstance(body.get("tools"), list):
        body["tools"] = [_flat_tool(t) for t in body["tools"]]
    if "tool_choice" in body:
        body["tool_choice"] = _flat_choice(body["tool_choice"])
    if "text" in body:
        body["text"] = _flat_format(body["text"])
    if isinstance(body.get("input"), list):
        body["input"] = [_flat_item(i) for i in body["input"]]
