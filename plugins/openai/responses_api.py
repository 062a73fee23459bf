"""The OpenAI Responses wire format (``openai.responses``): validation, usage, errors.

Validation follows the reference (the Databricks Foundation Model REST API docs): value
ranges, the shape of ``input`` items and content blocks, function tools. What agents send
beyond it passes through untouched: ``custom``/``web_search``/``namespace``/
``tool_search`` tools, reasoning items with ``encrypted_content``,
``client_metadata``, ``include``, ``text.verbosity``. ``store`` may be true or
false: OpenAI keeps its own responses, and for translated models the gateway keeps them
(plugins/openai/responses_store.py). ``background``, ``conversation`` and
``service_tier`` are refused with 400: they need state or choices the gateway does not have.
"""

from __future__ import annotations

from typing import Any

from proxy.checks import boolean, int_at_least, number_in, object_field, one_of
from plugins.openai.compaction import replace_gateway_compactions
from plugins.openai.errors import openai_error_body, openai_quota_exhausted
from plugins.openai.responses_shapes import to_openai_shapes
from plugins.openai.reference_schema import check_json_schema
from plugins.openai.responses_meter import ResponsesStreamMeter, usage_from_responses
from plugins.openai.responses_schema import RESPONSES
from plugins.openai.responses_stream import CURRENT_STREAM, error_event_fields
from proxy import hookimpl, sse
from proxy.apis import Api, ApiRegistry
from proxy.errors import GatewayError, RequestRejected
from proxy.usage import Usage

MESSAGE_ROLES = ("user", "assistant", "system", "developer")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
MAX_METADATA_PAIRS = 16


def _reject(message: str, param: str) -> RequestRejected:
    return RequestRejected(message, param=param)


def _string(obj: dict[str, Any], name: str, where: str, *, required: bool = False) -> None:
    v = obj.get(name)
    if v is None:
        if required:
            raise _reject(f"'{where}.{name}' is required", f"{where}.{name}")
    elif not isinstance(v, str):
        raise _reject(f"'{where}.{name}' must be a string, got {type(v).__name__}", f"{where}.{name}")



# ---------------------------------------------------------------- input items

def _content_block(block: Any, where: str) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _reject(f"'{where}' must be an object with a string 'type'", where)
    kind = block["type"]
    if kind in ("input_text", "output_text"):
        _string(block, "text", where, required=True)
        if kind == "output_text" and block.get("annotations") is not None \
                and not isinstance(block["annotations"], list):
            raise _reject(f"'{where}.annotations' must be a list", f"{where}.annotations")
    elif kind == "input_image":
        _string(block, "image_url", where)
        _string(block, "file_id", where)
        if block.get("image_url") is None and block.get("file_id") is None:
            raise _reject(f"'{where}.image_url' is required (a URL or a base64 data URI)", f"{where}.image_url")
        one_of(block, "detail", ("auto", "low", "high", "original"))
    elif kind == "input_file":
        for name in ("file_id", "filename", "file_data", "file_url"):
            _string(block, name, where)
        if all(block.get(n) is None for n in ("file_id", "file_data", "file_url")):
            raise _reject(f"'{where}' needs one of file_id, file_data or file_url", f"{where}.file_data")
    # refusal, input_audio, summary_text, ... pass through


def _message(item: dict[str, Any], where: str) -> None:
    role = item.get("role")
    if role not in MESSAGE_ROLES:
        raise _reject(f"'{where}.role' must be one of {', '.join(MESSAGE_ROLES)}; got {role!r}", f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _reject(f"'{where}.content' must be a string or a list of content blocks", f"{where}.content")
    for j, block in enumerate(content):
        _content_block(block, f"{where}.content[{j}]")


def _function_call(item: dict[str, Any], where: str) -> None:
    _string(item, "id", where)
    _string(item, "call_id", where, required=True)
    _string(item, "name", where, required=True)
    args = item.get("arguments")
    if not isinstance(args, (str, dict)):
        raise _reject(f"'{where}.arguments' is required: a JSON string or object", f"{where}.arguments")


def _function_call_output(item: dict[str, Any], where: str) -> None:
    _string(item, "call_id", where, required=True)
    if not isinstance(item.get("output"), (str, dict, list)):
        raise _reject(f"'{where}.output' is required: a string, an object or a list of content blocks",
                      f"{where}.output")


def _reasoning(item: dict[str, Any], where: str) -> None:
    summary = item.get("summary")
    if summary is not None and (not isinstance(summary, list)
                                or not all(isinstance(s, dict) for s in summary)):
        raise _reject(f"'{where}.summary' must be a list of summary objects", f"{where}.summary")
    _string(item, "encrypted_content", where)


def _compaction(item: dict[str, Any], where: str) -> None:
    _string(item, "encrypted_content", where, required=True)


_ITEM_CHECKS = {"message": _message, "function_call": _function_call,
                "function_call_output": _function_call_output, "reasoning": _reasoning,
                "compaction": _compaction}


def check_input(value: Any) -> None:
    """``input``: a string or a list of items, each checked by its type."""
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise _reject("'input' is required: a string or a list of messages and items", "input")
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise _reject(f"'{where}' must be an object", where)
        kind = item.get("type")
        if kind is None and "role" in item:
            kind = "message"                 # EasyInputMessage: {role, content} without a type
        if not isinstance(kind, str):
            raise _reject(f"'{where}.type' is required", f"{where}.type")
        check = _ITEM_CHECKS.get(kind)
        if check is not None:
            check(item, where)
        # custom_tool_call(_output), item_reference, web_search_call, ... pass through


# ---------------------------------------------------------------- other fields

def _tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _reject("'tools' must be a list", "tools")
    for i, t in enumerate(tools):
        if not isinstance(t, dict) or not isinstance(t.get("type"), str):
            raise _reject(f"'tools[{i}]' must be an object with a string 'type'", f"tools[{i}]")
        if t["type"] != "function":
            continue                         # custom, web_search, namespace, tool_search, mcp, ...
        # Responses tools are flat; the reference also shows the chat-style nesting.
        name = t.get("name") if "function" not in t else (t.get("function") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise _reject(f"'tools[{i}].name' is required for function tools", f"tools[{i}].name")
        if t.get("parameters") is not None and not isinstance(t["parameters"], dict):
            raise _reject(f"'tools[{i}].parameters' must be a JSON schema object", f"tools[{i}].parameters")
    choice = body.get("tool_choice")
    if choice is not None and not isinstance(choice, dict) and choice not in ("none", "auto", "required"):
        raise _reject(f"'tool_choice' must be none, auto, required or an object; got {choice!r}", "tool_choice")
    if isinstance(choice, dict) and not isinstance(choice.get("type"), str):
        raise _reject("'tool_choice.type' is required", "tool_choice.type")


def _text(body: dict[str, Any]) -> None:
    text = object_field(body, "text")
    if text is None:
        return
    fmt = text.get("format")
    if fmt is None:
        return                               # e.g. only {"verbosity": "low"}
    if not isinstance(fmt, dict):
        raise _reject("'text.format' must be an object", "text.format")
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise _reject(f"'text.format.type' must be text, json_object or json_schema; got {kind!r}",
                      "text.format.type")
    # OpenAI puts the schema beside the type; the reference nests it in json_schema.
    if kind == "json_schema" and not isinstance(fmt.get("schema"), dict) \
            and not isinstance(fmt.get("json_schema"), dict):
        raise _reject("'text.format.schema' is required when type is json_schema", "text.format.schema")


def _unsupported(body: dict[str, Any]) -> None:
    """Features the gateway cannot honour on every model."""
    if body.get("background") not in (None, False):
        raise _reject("'background' is not supported: background processing needs stored responses",
                      "background")
    if body.get("conversation") is not None:
        raise _reject("'conversation' is not supported: the Conversations API needs stored state", "conversation")
    if body.get("service_tier") is not None:
        raise _reject("'service_tier' is not supported: the gateway chooses the service tier", "service_tier")


def _metadata(body: dict[str, Any]) -> None:
    meta = object_field(body, "metadata")
    if meta is not None and len(meta) > MAX_METADATA_PAIRS:
        raise _reject(f"'metadata' allows at most {MAX_METADATA_PAIRS} key-value pairs, got {len(meta)}",
                      "metadata")


def _strings(body: dict[str, Any], *names: str) -> None:
    for name in names:
        v = body.get(name)
        if v is not None and not isinstance(v, str):
            raise _reject(f"'{name}' must be a string, got {type(v).__name__}", name)


class OpenAIResponses(Api):
    id = "openai.responses"
    request_schema = RESPONSES
    capped = (("max_output_tokens", "max_output_tokens"),)
    meter_class = ResponsesStreamMeter

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        _unsupported(body)
        check_input(body.get("input"))
        instructions = body.get("instructions")
        if instructions is not None and not isinstance(instructions, (str, list)):
            raise _reject("'instructions' must be a string", "instructions")
        number_in(body, "temperature", 0, 2)
        number_in(body, "top_p", 0, 1, lo_open=True)
        number_in(body, "presence_penalty", -2, 2)
        number_in(body, "frequency_penalty", -2, 2)
        int_at_least(body, "max_output_tokens", 1)
        int_at_least(body, "max_tool_calls", 1)
        int_at_least(body, "top_logprobs", 0, 20)
        boolean(body, "stream")
        boolean(body, "parallel_tool_calls")
        boolean(body, "store")
        if object_field(body, "stream_options") is not None and body.get("stream") is not True:
            raise _reject("'stream_options' is only allowed when 'stream' is true", "stream_options")
        reasoning = object_field(body, "reasoning")
        if reasoning is not None:
            one_of(reasoning, "effort", REASONING_EFFORTS)
        _text(body)
        _tools(body)
        _metadata(body)
        _strings(body, "previous_response_id", "prompt_cache_key", "prompt_cache_retention",
                 "safety_identifier", "user")
        one_of(body, "truncation", ("auto", "disabled"))
        include = body.get("include")
        if include is not None and (not isinstance(include, list) or not all(isinstance(s, str) for s in include)):
            raise _reject("'include' must be a list of strings", "include")
        object_field(body, "prompt")
        to_openai_shapes(body)               # one shape for the passthrough, the store and translations
        fmt = (body.get("text") or {}).get("format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            check_json_schema(fmt, "text.format", strict=True)

    def upstream_body(self, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        # A compaction another model made through the gateway is its summary to OpenAI too.
        items = replace_gateway_compactions(body.get("input"))
        if items is not body.get("input"):
            body = {**body, "input": items}
        # Responses streams always end with usage in response.completed; the
        # reference's stream_options.include_usage means nothing to OpenAI (400 there).
        options = body.get("stream_options")
        if isinstance(options, dict) and "include_usage" in options:
            rest = {k: v for k, v in options.items() if k != "include_usage"}
            body = {k: v for k, v in body.items() if k != "stream_options"}
            if rest:
                body["stream_options"] = rest
        return body

    def usage_from_body(self, body: Any) -> Usage:
        return usage_from_responses(body.get("usage") if isinstance(body, dict) else None)

    def error_body(self, err: GatewayError, request_id: str) -> dict[str, Any]:
        return openai_error_body(err, request_id)

    def quota_exhausted(self, body: bytes) -> bool:
        return openai_quota_exhausted(body)

    def stream_error_event(self, err: GatewayError, request_id: str) -> bytes:
        """OpenAI's error event numbered after the last event relayed, then ``response.failed``
        (the one terminal event Open Responses requires)."""
        error = openai_error_body(err, request_id)["error"]
        stream = CURRENT_STREAM.get(None)
        if stream is not None:
            return stream.fail(error)
        return sse.event("error", {"type": "error", **error_event_fields(error), "sequence_number": 0})


@hookimpl
def relaygate_register_apis(registry: ApiRegistry) -> None:
    registry.add(OpenAIResponses())
