"""The reference's schema constraints on tools, tool calls and structured output.

Both editions of the reference (the Databricks Foundation Model REST API) agree
on these, and OpenAI's API requires them too, so every surface checks them:

- a ToolCall of an assistant message has a string ``id``, ``type: "function"``
  and a ``function`` with a string ``name`` and ``arguments`` (a JSON string or object);
- a ``json_schema`` response format has a string ``name``.

Where the editions differ, the reference surfaces (``/mlflow/v1``,
``/serving-endpoints``: *strict*) follow the stricter one, and the OpenAI-shaped
``/v1`` follows OpenAI:

- ``JsonSchemaObject.schema`` is required (both editions; optional for OpenAI);
- a function's ``parameters`` may have at most 15 ``properties`` (stated by the
  .sv edition, absent from the .ja one).
"""

from __future__ import annotations

from typing import Any

from proxy.errors import RequestRejected

MAX_FUNCTION_PROPERTIES = 15


def check_tool_calls(messages: Any) -> None:
    for i, m in enumerate(messages if isinstance(messages, list) else []):
        calls = m.get("tool_calls") if isinstance(m, dict) else None
        for j, call in enumerate(calls if isinstance(calls, list) else []):
            where = f"messages[{i}].tool_calls[{j}]"
            if not isinstance(call, dict):
                raise RequestRejected(f"'{where}' must be an object", param=where)
            if not isinstance(call.get("id"), str) or not call["id"]:
                raise RequestRejected(f"'{where}.id' is required: the tool call's id", param=f"{where}.id")
            if call.get("type") != "function":
                raise RequestRejected(f"'{where}.type' is required and must be 'function'", param=f"{where}.type")
            fn = call.get("function")
            if not isinstance(fn, dict):
                raise RequestRejected(f"'{where}.function' is required: an object with name and arguments",
                                      param=f"{where}.function")
            if not isinstance(fn.get("name"), str) or not fn["name"]:
                raise RequestRejected(f"'{where}.function.name' is required", param=f"{where}.function.name")
            if not isinstance(fn.get("arguments"), (str, dict)):
                raise RequestRejected(f"'{where}.function.arguments' is required: a JSON string or object",
                                      param=f"{where}.function.arguments")


def check_function_properties(tools: Any, strict: bool) -> None:
    if not strict:
        return
    for i, t in enumerate(tools if isinstance(tools, list) else []):
        fn = t.get("function") if isinstance(t, dict) else None
        params = fn.get("parameters") if isinstance(fn, dict) else None
        props = params.get("properties") if isinstance(params, dict) else None
        if isinstance(props, dict) and len(props) > MAX_FUNCTION_PROPERTIES:
            where = f"tools[{i}].function.parameters.properties"
            raise RequestRejected(f"'{where}' has {len(props)} properties; the reference allows at most "
                                  f"{MAX_FUNCTION_PROPERTIES}", param=where)


def check_json_schema(rf: dict[str, Any], where: str, strict: bool) -> None:
    """*rf*: a ``json_schema`` format's object (``response_format.json_schema``)."""
    if not isinstance(rf.get("name"), str) or not rf["name"]:
        raise RequestRejected(f"'{where}.name' is required: the response format's name", param=f"{where}.name")
    if strict and not isinstance(rf.get("schema"), dict):
        raise RequestRejected(f"'{where}.schema' is required: a JSON schema object", param=f"{where}.schema")
