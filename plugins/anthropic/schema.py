"""Shape of the Anthropic Messages request body (``anthropic.messages`` and ``count_tokens``).

The fields the translators read, with their JSON types and the bounds of numbers
the gateway forwards (see :mod:`proxy.shapes`). Unknown fields and block types
pass, as the format's light validation promises; a known block must have its
fields in the types Anthropic gives them. Also the request body in ``/openapi.json``.
"""

from __future__ import annotations

from proxy.shapes import BOOLEAN, COUNT, NUMBER, OBJECT, STRING, Schema, array, nullable, obj, tagged

_SOURCE = obj({"type": STRING, "media_type": STRING, "data": STRING, "url": STRING, "file_id": STRING},
              required=("type",))
_CACHE = nullable(obj({"type": STRING, "ttl": STRING}))

_LEAF: list[Schema] = [
    tagged("text", {"text": STRING, "cache_control": _CACHE, "citations": nullable(array(OBJECT))},
           required=("text",)),
    tagged("image", {"source": _SOURCE, "cache_control": _CACHE}, required=("source",)),
    tagged("document", {"source": {"anyOf": [_SOURCE, OBJECT]}, "title": nullable(STRING),
                        "context": nullable(STRING), "citations": nullable(OBJECT), "cache_control": _CACHE},
           required=("source",)),
]
BLOCK: Schema = {"anyOf": [
    *_LEAF,
    tagged("thinking", {"thinking": STRING, "signature": STRING}),
    tagged("redacted_thinking", {"data": STRING}),
    tagged("tool_use", {"id": STRING, "name": STRING, "input": OBJECT, "cache_control": _CACHE},
           required=("id", "name")),
    tagged("tool_result", {"tool_use_id": STRING, "is_error": nullable(BOOLEAN), "cache_control": _CACHE,
                           "content": {"anyOf": [STRING, array({"anyOf": [*_LEAF, OBJECT]}), {"type": "null"}]}},
           required=("tool_use_id",)),
    obj({"type": STRING}, required=("type",)),          # server tools' blocks, betas' blocks: passed on
]}

MESSAGE: Schema = obj({"role": STRING, "content": {"anyOf": [STRING, array(BLOCK)]}},
                      required=("role", "content"))
TOOL: Schema = obj({"name": STRING, "type": nullable(STRING), "description": STRING, "input_schema": OBJECT,
                    "strict": nullable(BOOLEAN), "cache_control": _CACHE})
_TOOL_CHOICE = obj({"type": STRING, "name": STRING, "disable_parallel_tool_use": BOOLEAN}, required=("type",))
_THINKING = obj({"type": STRING, "budget_tokens": COUNT}, required=("type",))

_COMMON: dict[str, Schema] = {
    "model": STRING,
    "messages": array(MESSAGE),
    "system": {"anyOf": [STRING, array(BLOCK)]},
    "tools": array(TOOL),
    "tool_choice": _TOOL_CHOICE,
    "thinking": _THINKING,
    "output_config": obj({"effort": nullable(STRING), "format": nullable(obj({"type": STRING, "schema": OBJECT}))}),
}

def _optional_nullable(schema: Schema) -> Schema:
    """SDKs send ``null`` for an optional field they leave unset (Claude Code: ``temperature: null``)."""
    required = set(schema.get("required", ()))
    schema["properties"] = {k: v if k in required else nullable(v) if "type" in v else {"anyOf": [v, {"type": "null"}]}
                            for k, v in schema["properties"].items()}
    return schema


MESSAGES: Schema = _optional_nullable(obj({
    **_COMMON,
    "max_tokens": COUNT,
    "stream": BOOLEAN,
    "temperature": NUMBER, "top_p": NUMBER, "top_k": COUNT,
    "stop_sequences": array(STRING),
    "metadata": obj({"user_id": nullable(STRING)}),
    "container": nullable({"anyOf": [STRING, OBJECT]}), "mcp_servers": array(OBJECT),
}, required=("model", "messages", "max_tokens")))

COUNT_TOKENS: Schema = _optional_nullable(obj(_COMMON, required=("model", "messages")))
