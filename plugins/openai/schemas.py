"""Shapes of the OpenAI-style request bodies: chat, legacy completions, embeddings.

The fields the translators read, with their JSON types and the bounds of numbers
the gateway forwards (see :mod:`proxy.shapes`). Also the request bodies of these
routes in ``/openapi.json``. Value rules of the reference (ranges, role order)
stay in the format's ``validate``; these only make sure nothing reaches a
translator in a type it cannot read.
"""

from __future__ import annotations

from proxy.shapes import BOOLEAN, COUNT, NUMBER, OBJECT, STRING, Schema, array, nullable, obj, tagged

TEXT_OR_NULL = nullable(STRING)
STOP: Schema = {"anyOf": [STRING, array(STRING, maxItems=16), {"type": "null"}]}

_CACHE_CONTROL: Schema = {"anyOf": [STRING, obj({"type": STRING}, required=("type",))]}
CONTENT_PART: Schema = {"anyOf": [
    tagged("text", {"text": STRING, "cache_control": _CACHE_CONTROL, "citations": nullable(array(OBJECT))},
           required=("text",)),
    tagged("image_url", {"image_url": {"anyOf": [obj({"url": STRING, "detail": STRING}, required=("url",)),
                                                 STRING]}}, required=("image_url",)),
    tagged("input_audio", {"input_audio": obj({"data": STRING, "format": STRING})}, required=("input_audio",)),
    tagged("file", {"file": obj({"file_data": STRING, "file_id": STRING, "filename": STRING})},
           required=("file",)),
    tagged("document", {"source": obj({"type": STRING})}),
    tagged("reasoning", {"summary": nullable(array(OBJECT))}),
    tagged("refusal", {"refusal": STRING}),
    obj({"type": STRING}, required=("type",)),        # other part types pass (the provider decides)
]}
CONTENT: Schema = {"anyOf": [STRING, array(CONTENT_PART), {"type": "null"}]}

_EXTRA_CONTENT = obj({"google": obj({"thought_signature": STRING})})
TOOL_CALL: Schema = obj({
    "id": STRING, "type": STRING, "extra_content": _EXTRA_CONTENT,
    "function": obj({"name": STRING, "arguments": STRING}, required=("name",)),
}, required=("function",))

MESSAGE: Schema = obj({
    "role": STRING, "content": CONTENT, "name": STRING,
    "tool_calls": nullable(array(TOOL_CALL)), "tool_call_id": STRING,
    "function_call": nullable(obj({"name": STRING, "arguments": STRING})),
    "reasoning_content": TEXT_OR_NULL, "thinking_blocks": nullable(array(OBJECT)),
    "extra_content": _EXTRA_CONTENT,
}, required=("role",))

FUNCTION: Schema = obj({"name": STRING, "description": TEXT_OR_NULL, "parameters": OBJECT,
                        "strict": nullable(BOOLEAN)}, required=("name",))
TOOL: Schema = {"anyOf": [tagged("function", {"function": FUNCTION}, required=("function",)),
                          obj({"type": STRING}, required=("type",))]}
TOOL_CHOICE: Schema = {"anyOf": [STRING, obj({"type": STRING, "function": obj({"name": STRING})})]}
RESPONSE_FORMAT: Schema = obj({
    "type": STRING,
    "json_schema": obj({"name": STRING, "schema": OBJECT, "strict": nullable(BOOLEAN),
                        "description": TEXT_OR_NULL}),
}, required=("type",))

#: sampling and limits shared by chat and completions
SAMPLING: dict[str, Schema] = {
    "model": STRING, "stream": nullable(BOOLEAN), "stream_options": nullable(obj({"include_usage": BOOLEAN})),
    "temperature": nullable(NUMBER), "top_p": nullable(NUMBER), "top_k": nullable(COUNT),
    "presence_penalty": nullable(NUMBER), "frequency_penalty": nullable(NUMBER),
    "max_tokens": nullable(COUNT), "n": nullable(COUNT), "stop": STOP, "user": STRING,
    "seed": nullable({"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}),
    "logit_bias": nullable({"type": "object", "additionalProperties": NUMBER}),
}

CHAT: Schema = obj({
    **SAMPLING,
    "messages": array(MESSAGE, minItems=1),
    "max_completion_tokens": nullable(COUNT),
    "logprobs": nullable(BOOLEAN), "top_logprobs": nullable({"type": "integer", "minimum": 0, "maximum": 20}),
    "tools": nullable(array(TOOL)), "tool_choice": TOOL_CHOICE, "parallel_tool_calls": nullable(BOOLEAN),
    "functions": nullable(array(FUNCTION)), "function_call": {"anyOf": [STRING, obj({"name": STRING})]},
    "response_format": nullable(RESPONSE_FORMAT),
    "reasoning_effort": nullable(STRING), "verbosity": nullable(STRING), "metadata": nullable(OBJECT),
    "extra_body": obj({"google": obj({
        "thinking_config": obj({"thinking_budget": {"type": "integer", "minimum": -1, "maximum": 2**31 - 1},
                                "include_thoughts": BOOLEAN, "thinking_level": STRING}),
        "safety_settings": array(OBJECT), "cached_content": STRING,
        "labels": {"type": "object", "additionalProperties": STRING}})}),
}, required=("messages",))

_PROMPT: Schema = {"anyOf": [STRING, array(STRING), array(COUNT), array(array(COUNT))]}

COMPLETIONS: Schema = obj({
    **SAMPLING,
    "prompt": _PROMPT, "suffix": TEXT_OR_NULL, "echo": nullable(BOOLEAN),
    "logprobs": nullable({"type": "integer", "minimum": 0, "maximum": 5}), "best_of": nullable(COUNT),
    "instruction": STRING, "use_raw_prompt": BOOLEAN, "error_behavior": STRING,
}, required=("prompt",))

EMBEDDINGS: Schema = obj({
    "model": STRING, "user": STRING,
    "input": {"anyOf": [STRING, array(STRING, minItems=1, maxItems=2048),
                        array(COUNT, minItems=1), array(array(COUNT, minItems=1), minItems=1, maxItems=2048)]},
    "encoding_format": {"type": "string", "enum": ["float", "base64"]},
    # no embedding model has more dimensions than this; a larger number is a mistake, not a request
    "dimensions": nullable({"type": "integer", "minimum": 1, "maximum": 65536}),
}, required=("input",))
