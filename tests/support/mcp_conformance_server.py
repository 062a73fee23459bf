"""An MCP server offering what the server scenarios of ``@modelcontextprotocol/conformance`` call.

Built on the ``mcp`` SDK's low-level ``Server`` (so every schema and content block is exactly
what the scenarios describe): the ``test_*`` tools (text, image, audio, embedded resource,
mixed content, logging, progress, error, sampling, elicitation with defaults and enums,
a JSON Schema 2020-12 input schema, SSE stream closure for polling), the ``test://``
resources and template, subscriptions, the ``test_*`` prompts, completion and log levels.
Served over streamable HTTP with an in-memory event store so streams can be resumed.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import mcp_types as t
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore

# a 1x1 PNG and a 1-sample WAV, made for these tests
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5f1f3a50000000049454e44ae426082")).decode()
WAV = base64.b64encode(b"RIFF&\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00"
                       b"\x02\x00\x10\x00data\x02\x00\x00\x00\x00\x00").decode()
SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"


class MemoryEventStore(EventStore):
    """Every event of every stream, so a client reconnecting with Last-Event-ID gets the rest."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    async def store_event(self, stream_id: str, message: Any) -> str:
        event_id = str(len(self.events) + 1)
        self.events.append((stream_id, event_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
        stream = next((s for s, e, _ in self.events if e == last_event_id), None)
        if stream is None:
            return None
        for s, e, message in self.events:
            if s == stream and int(e) > int(last_event_id) and message is not None:
                await send_callback(EventMessage(message, e))
        return stream


def _text(text: str) -> t.TextContent:
    return t.TextContent(type="text", text=text)


def _tool(name: str, description: str, properties: dict[str, Any] | None = None,
          required: list[str] | None = None) -> t.Tool:
    schema: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = required
    return t.Tool(name=name, description=description, input_schema=schema)


TOOLS = [
    _tool("test_simple_text", "Returns simple text"),
    _tool("test_image_content", "Returns an image"),
    _tool("test_audio_content", "Returns audio"),
    _tool("test_embedded_resource", "Returns an embedded resource"),
    _tool("test_multiple_content_types", "Returns text, an image and a resource"),
    _tool("test_tool_with_logging", "Sends three log notifications"),
    _tool("test_tool_with_progress", "Reports progress 0, 50, 100 of 100"),
    _tool("test_error_handling", "Always fails"),
    _tool("test_sampling", "Asks the client's model", {"prompt": {"type": "string"}}, ["prompt"]),
    _tool("test_elicitation", "Asks the user", {"message": {"type": "string"}}, ["message"]),
    _tool("test_elicitation_sep1034_defaults", "Asks with defaults for every primitive type"),
    _tool("test_elicitation_sep1330_enums", "Asks with every enum schema variant"),
    _tool("test_reconnection", "Closes its SSE stream mid-call"),
    t.Tool(name="json_schema_2020_12_tool", description="Tool with JSON Schema 2020-12 features", input_schema={
        "$schema": SCHEMA_2020_12, "type": "object",
        "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"},
                                                               "city": {"type": "string"}}}},
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
        "additionalProperties": False}),
]

DEFAULTS_SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string", "default": "John Doe"}, "age": {"type": "integer", "default": 30},
    "score": {"type": "number", "default": 95.5},
    "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
    "verified": {"type": "boolean", "default": True}}}
ENUMS_SCHEMA = {"type": "object", "properties": {
    "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
    "titledSingle": {"type": "string", "oneOf": [{"const": "value1", "title": "First Option"},
                                                  {"const": "value2", "title": "Second Option"},
                                                  {"const": "value3", "title": "Third Option"}]},
    "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                   "enumNames": ["Option One", "Option Two", "Option Three"]},
    "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
    "titledMulti": {"type": "array", "items": {"anyOf": [{"const": "value1", "title": "First Choice"},
                                                          {"const": "value2", "title": "Second Choice"},
                                                          {"const": "value3", "title": "Third Choice"}]}}}}


async def _call(ctx: Any, params: t.CallToolRequestParams) -> t.CallToolResult:
    name, args = params.name, params.arguments or {}
    session, rid = ctx.session, ctx.request_id
    if name == "test_simple_text":
        return t.CallToolResult(content=[_text("This is a simple text response for testing.")])
    if name == "test_image_content":
        return t.CallToolResult(content=[t.ImageContent(type="image", data=PNG, mime_type="image/png")])
    if name == "test_audio_content":
        return t.CallToolResult(content=[t.AudioContent(type="audio", data=WAV, mime_type="audio/wav")])
    if name == "test_embedded_resource":
        return t.CallToolResult(content=[t.EmbeddedResource(type="resource", resource=t.TextResourceContents(
            uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."))])
    if name == "test_multiple_content_types":
        return t.CallToolResult(content=[
            _text("Multiple content types test:"), t.ImageContent(type="image", data=PNG, mime_type="image/png"),
            t.EmbeddedResource(type="resource", resource=t.TextResourceContents(
                uri="test://mixed-content-resource", mime_type="application/json",
                text=json.dumps({"test": "data", "value": 123})))])
    if name == "test_tool_with_logging":
        for i, message in enumerate(("Tool execution started", "Tool processing data", "Tool execution completed")):
            if i:
                await asyncio.sleep(0.05)
            await session.send_log_message(level="info", data=message, logger=None, related_request_id=rid)
        return t.CallToolResult(content=[_text("Tool with logging executed successfully")])
    if name == "test_tool_with_progress":
        meta = ctx.meta or {}
        token = meta.get("progress_token", meta.get("progressToken"))
        for i, step in enumerate((0, 50, 100)):
            if i:
                await asyncio.sleep(0.05)
            if token is not None:
                await session.send_progress_notification(token, step, 100, related_request_id=rid)
        return t.CallToolResult(content=[_text(f"Progress reported ({token})")])
    if name == "test_error_handling":
        return t.CallToolResult(is_error=True, content=[_text("This tool intentionally returns an error for testing")])
    if name == "test_sampling":
        result = await session.create_message(
            messages=[t.SamplingMessage(role="user", content=_text(str(args.get("prompt", ""))))], max_tokens=100,
            related_request_id=rid)
        text = result.content.text if isinstance(result.content, t.TextContent) else "(no text)"
        return t.CallToolResult(content=[_text(f"LLM response: {text}")])
    if name in ("test_elicitation", "test_elicitation_sep1034_defaults", "test_elicitation_sep1330_enums"):
        schema = {"test_elicitation_sep1034_defaults": DEFAULTS_SCHEMA, "test_elicitation_sep1330_enums": ENUMS_SCHEMA}
        requested = schema.get(name) or {"type": "object", "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"}}, "required": ["username", "email"]}
        message = str(args.get("message") or "Please provide the values")
        result = await session.elicit(message=message, requested_schema=requested, related_request_id=rid)
        return t.CallToolResult(content=[_text(f"Elicitation completed: action={result.action}, "
                                               f"content={json.dumps(result.content or {})}")])
    if name == "test_reconnection":
        await session.send_log_message(level="info", data="Before disconnect", logger=None, related_request_id=rid)
        if ctx.close_sse_stream is not None:
            await ctx.close_sse_stream()
        await asyncio.sleep(0.2)
        return t.CallToolResult(content=[_text("Reconnection test completed")])
    if name == "json_schema_2020_12_tool":
        return t.CallToolResult(content=[_text(json.dumps(args))])
    raise ValueError(f"Unknown tool: {name}")


RESOURCES = [
    t.Resource(uri="test://static-text", name="static-text", description="A static text resource",
               mime_type="text/plain"),
    t.Resource(uri="test://static-binary", name="static-binary", description="A static PNG", mime_type="image/png"),
    t.Resource(uri="test://watched-resource", name="watched-resource", description="A resource to subscribe to",
               mime_type="text/plain"),
]


async def _read(ctx: Any, params: t.ReadResourceRequestParams) -> t.ReadResourceResult:
    uri = str(params.uri)
    if uri == "test://static-text":
        contents: list[Any] = [t.TextResourceContents(uri=uri, mime_type="text/plain",
                                                      text="This is the content of the static text resource.")]
    elif uri == "test://static-binary":
        contents = [t.BlobResourceContents(uri=uri, mime_type="image/png", blob=PNG)]
    elif uri == "test://watched-resource":
        contents = [t.TextResourceContents(uri=uri, mime_type="text/plain", text="Watched resource content")]
    elif uri.startswith("test://template/") and uri.endswith("/data"):
        item = uri[len("test://template/"):-len("/data")]
        contents = [t.TextResourceContents(uri=uri, mime_type="application/json", text=json.dumps(
            {"id": item, "templateTest": True, "data": f"Data for ID: {item}"}))]
    else:
        raise ValueError(f"Resource not found: {uri}")
    return t.ReadResourceResult(contents=contents)


PROMPTS = [
    t.Prompt(name="test_simple_prompt", description="A prompt without arguments"),
    t.Prompt(name="test_prompt_with_arguments", description="A prompt with two arguments", arguments=[
        t.PromptArgument(name="arg1", description="First test argument", required=True),
        t.PromptArgument(name="arg2", description="Second test argument", required=True)]),
    t.Prompt(name="test_prompt_with_embedded_resource", description="A prompt embedding a resource", arguments=[
        t.PromptArgument(name="resourceUri", description="URI of the resource to embed", required=True)]),
    t.Prompt(name="test_prompt_with_image", description="A prompt with an image"),
]


async def _prompt(ctx: Any, params: t.GetPromptRequestParams) -> t.GetPromptResult:
    args = params.arguments or {}
    if params.name == "test_simple_prompt":
        messages = [t.PromptMessage(role="user", content=_text("This is a simple prompt for testing."))]
    elif params.name == "test_prompt_with_arguments":
        messages = [t.PromptMessage(role="user", content=_text(
            f"Prompt with arguments: arg1='{args.get('arg1')}', arg2='{args.get('arg2')}'"))]
    elif params.name == "test_prompt_with_embedded_resource":
        embedded = t.TextResourceContents(uri=args.get("resourceUri", "test://example-resource"),
                                          mime_type="text/plain", text="Embedded resource content for testing.")
        messages = [t.PromptMessage(role="user", content=t.EmbeddedResource(type="resource", resource=embedded)),
                    t.PromptMessage(role="user", content=_text("Please process the embedded resource above."))]
    elif params.name == "test_prompt_with_image":
        messages = [t.PromptMessage(role="user", content=t.ImageContent(type="image", data=PNG, mime_type="image/png")),
                    t.PromptMessage(role="user", content=_text("Please analyze the image above."))]
    else:
        raise ValueError(f"Unknown prompt: {params.name}")
    return t.GetPromptResult(messages=messages)


def build_conformance_server() -> Server[Any]:
    async def list_tools(ctx: Any, params: Any) -> t.ListToolsResult:
        return t.ListToolsResult(tools=TOOLS)

    async def list_resources(ctx: Any, params: Any) -> t.ListResourcesResult:
        return t.ListResourcesResult(resources=RESOURCES)

    async def list_templates(ctx: Any, params: Any) -> t.ListResourceTemplatesResult:
        return t.ListResourceTemplatesResult(resource_templates=[t.ResourceTemplate(
            uri_template="test://template/{id}/data", name="template", description="A template",
            mime_type="application/json")])

    async def list_prompts(ctx: Any, params: Any) -> t.ListPromptsResult:
        return t.ListPromptsResult(prompts=PROMPTS)

    async def empty(ctx: Any, params: Any) -> t.EmptyResult:
        return t.EmptyResult()

    async def complete(ctx: Any, params: Any) -> t.CompleteResult:
        return t.CompleteResult(completion=t.Completion(values=[], total=0, has_more=False))

    return Server("relaygate-conformance-server", version="1.0.0", on_list_tools=list_tools, on_call_tool=_call,
                  on_list_resources=list_resources, on_list_resource_templates=list_templates, on_read_resource=_read,
                  on_subscribe_resource=empty, on_unsubscribe_resource=empty, on_list_prompts=list_prompts,
                  on_get_prompt=_prompt, on_completion=complete, on_set_logging_level=empty)


def conformance_app() -> Any:
    return build_conformance_server().streamable_http_app(event_store=MemoryEventStore(), retry_interval=100)
