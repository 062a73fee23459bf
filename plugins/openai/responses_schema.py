"""Shape of the Responses request body (``openai.responses`` and ``/responses/compact``).

The fields the Responses translators read, with their JSON types (see
:mod:`proxy.shapes`); the value rules stay in ``responses_api``. Also the request
body of these routes in ``/openapi.json``.
"""

from __future__ import annotations

from plugins.openai.schemas import NUMBER, TEXT_OR_NULL
from proxy.shapes import BOOLEAN, COUNT, OBJECT, STRING, Schema, array, nullable, obj, tagged

_BLOCK: Schema = {"anyOf": [
    tagged("input_text", {"text": STRING}, required=("text",)),
    tagged("output_text", {"text": STRING, "annotations": nullable(array(OBJECT))}, required=("text",)),
    tagged("input_image", {"image_url": TEXT_OR_NULL, "file_id": TEXT_OR_NULL, "detail": TEXT_OR_NULL}),
    tagged("input_file", {"file_id": TEXT_OR_NULL, "filename": TEXT_OR_NULL, "file_data": TEXT_OR_NULL,
                          "file_url": TEXT_OR_NULL}),
    tagged("refusal", {"refusal": STRING}),
    tagged("summary_text", {"text": STRING}),
    obj({"type": STRING}, required=("type",)),
]}
_CONTENT: Schema = {"anyOf": [STRING, array(_BLOCK)]}
_OUTPUT: Schema = {"anyOf": [STRING, array(_BLOCK), OBJECT]}

ITEM: Schema = {"anyOf": [
    tagged("message", {"role": STRING, "content": _CONTENT, "id": STRING, "status": STRING},
           required=("role", "content")),
    tagged("function_call", {"call_id": STRING, "name": STRING, "id": STRING,
                             "arguments": {"anyOf": [STRING, OBJECT]}}, required=("call_id", "name")),
    tagged("function_call_output", {"call_id": STRING, "output": _OUTPUT, "id": STRING},
           required=("call_id", "output")),
    tagged("reasoning", {"summary": nullable(array(obj({"text": STRING}))), "encrypted_content": TEXT_OR_NULL,
                         "content": nullable(array(obj({"text": STRING}))), "id": STRING}),
    tagged("compaction", {"encrypted_content": STRING}, required=("encrypted_content",)),
    obj({"role": STRING, "content": _CONTENT}, required=("role", "content")),      # EasyInputMessage
    obj({"type": STRING}, required=("type",)),
]}

_FUNCTION_TOOL = tagged("function", {
    "name": STRING, "description": TEXT_OR_NULL, "parameters": nullable(OBJECT), "strict": nullable(BOOLEAN),
    "function": obj({"name": STRING, "description": TEXT_OR_NULL, "parameters": nullable(OBJECT),
                     "strict": nullable(BOOLEAN)})})
TOOL: Schema = {"anyOf": [_FUNCTION_TOOL, obj({"type": STRING}, required=("type",))]}

_FORMAT: Schema = obj({
    "type": STRING, "name": STRING, "schema": OBJECT, "strict": nullable(BOOLEAN), "description": TEXT_OR_NULL,
    "json_schema": obj({"name": STRING, "schema": OBJECT, "strict": nullable(BOOLEAN)}),
}, required=("type",))

RESPONSES: Schema = obj({
    "model": STRING,
    "input": {"anyOf": [STRING, array(ITEM)]},
    "instructions": TEXT_OR_NULL,
    "previous_response_id": TEXT_OR_NULL,
    "stream": nullable(BOOLEAN), "store": nullable(BOOLEAN),
    "temperature": nullable(NUMBER), "top_p": nullable(NUMBER), "top_k": nullable(COUNT),
    "presence_penalty": nullable(NUMBER), "frequency_penalty": nullable(NUMBER),
    "max_output_tokens": nullable(COUNT), "top_logprobs": nullable({"type": "integer", "minimum": 0, "maximum": 20}),
    "tools": nullable(array(TOOL)),
    "tool_choice": {"anyOf": [STRING, obj({"type": STRING, "name": STRING})]},
    "parallel_tool_calls": nullable(BOOLEAN),
    "reasoning": nullable(obj({"effort": TEXT_OR_NULL, "summary": TEXT_OR_NULL})),
    "text": nullable(obj({"format": nullable(_FORMAT), "verbosity": TEXT_OR_NULL})),
    "metadata": nullable({"type": "object", "additionalProperties": STRING}),
    "include": nullable(array(STRING)),
    "user": STRING, "prompt_cache_key": STRING,
})

COMPACT: Schema = obj({"model": STRING, "input": {"anyOf": [STRING, array(ITEM)]},
                       "instructions": TEXT_OR_NULL, "previous_response_id": TEXT_OR_NULL,
                       "prompt_cache_key": STRING})
