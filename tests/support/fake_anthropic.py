"""Fake Anthropic upstream: /v1/messages (JSON + SSE), /v1/messages/count_tokens, /v1/models.

Bodies carry every field the spec marks required (nullable ones as ``null``), so
they validate against ``Message`` / ``MessageStreamEvent`` / ``ErrorResponse``.
``fake.base_url`` is the root (the SDK appends ``/v1/messages``).
"""
from __future__ import annotations

import json

from .fake_base import (Behavior, FakeUpstream, JsonReply, StreamReply, compile_routes, match_routes,
                        new_id, sse_framer)

_ERRORS = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("invalid_request_error", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}

SIGNATURE = "ZmFrZS10aGlua2luZy1zaWduYXR1cmU="
#: the API version that refuses sampling knobs, assistant documents and user citations
STRICT_VERSION = "2026-10-21"


def version_problem(body: dict) -> str | None:
    """What Anthropic API 2026-10-21 refuses in *body*, as its 400 message (None: acceptable)."""
    for name in ("temperature", "top_p", "top_k"):
        if body.get(name) is not None:
            return f"{name}: this parameter is not supported in API version {STRICT_VERSION}"
    for i, m in enumerate(body.get("messages") or []):
        for j, b in enumerate(m.get("content") if isinstance(m.get("content"), list) else []):
            if m.get("role") == "assistant" and b.get("type") == "document":
                return f"messages.{i}.content.{j}: document blocks are only allowed in user messages"
            if m.get("role") == "user" and b.get("type") == "text" and "citations" in b:
                return f"messages.{i}.content.{j}.citations: citations are only allowed in assistant messages"
    return None


def tool_pairing_problem(body: dict) -> str | None:
    """Anthropic's rule, as its 400 message: each ``tool_use`` has its ``tool_result`` in the next message."""
    msgs = body.get("messages") or []
    for i, m in enumerate(msgs):
        content = m.get("content") if isinstance(m.get("content"), list) else []
        ids = [b.get("id") for b in content if m.get("role") == "assistant" and b.get("type") == "tool_use"]
        nxt = msgs[i + 1] if i + 1 < len(msgs) else {}
        nxt_content = nxt.get("content") if isinstance(nxt.get("content"), list) else []
        answered = {b.get("tool_use_id") for b in nxt_content if b.get("type") == "tool_result"}
        missing = [x for x in ids if x not in answered]
        if missing:
            return (f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                    f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                    f"`tool_result` block in the next message.")
    return None


class FakeAnthropic(FakeUpstream):
    provider = "anthropic"

    def __init__(self, prefix: str = "", models: list[str] | None = None, input_tokens: int | None = None):
        super().__init__(prefix)
        self.models = models or ["claude-sonnet-4-6", "claude-opus-4-8", "claude-haiku-4-5"]
        self.count_tokens_result = input_tokens  # None -> Behavior usage.input_tokens
        self._routes = compile_routes([
            ("POST", r"/v1/messages", self.messages),
            ("POST", r"/v1/messages/count_tokens", self.count_tokens),
            ("GET", r"/v1/models", self.list_models),
            ("GET", r"/v1/models/(?P<model>[^/]+)", self.get_model),
        ])

    def resolve(self, method, path):
        return match_routes(self._routes, method, path)

    def response_headers(self):
        return {"request-id": new_id("req_fake", 20), "anthropic-organization-id": "org-fake"}

    def error_body(self, status: int, b: Behavior) -> dict:
        etype, msg = _ERRORS.get(status, ("api_error", f"HTTP {status}"))
        return {"type": "error", "error": {"type": b.error_type or etype, "message": b.error_message or msg},
                "request_id": new_id("req_fake", 20)}

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def usage(b: Behavior, output_tokens: int | None = None) -> dict:
        u = b.get_usage()
        return {"input_tokens": u.input_tokens,
                "cache_creation_input_tokens": u.cache_creation_tokens,
                "cache_read_input_tokens": u.cached_tokens,
                "cache_creation": {"ephemeral_5m_input_tokens": u.cache_creation_tokens - u.cache_creation_1h_tokens,
                                   "ephemeral_1h_input_tokens": u.cache_creation_1h_tokens},
                "output_tokens": u.output_tokens if output_tokens is None else output_tokens,
                "server_tool_use": None, "service_tier": "standard", "inference_geo": None}

    @staticmethod
    def delta_usage(b: Behavior) -> dict:
        u = b.get_usage()
        return {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                "cache_creation_input_tokens": u.cache_creation_tokens,
                "cache_read_input_tokens": u.cached_tokens, "server_tool_use": None}

    def _blocks(self, b: Behavior) -> list[dict]:
        blocks = []
        if b.reasoning is not None:
            blocks.append({"type": "thinking", "thinking": b.reasoning, "signature": SIGNATURE})
        text = b.get_text()
        if text is not None:
            blocks.append({"type": "text", "text": text, "citations": None})
        for t in b.get_tool_calls("toolu_"):
            blocks.append({"type": "tool_use", "id": t.id, "name": t.name, "input": t.arguments,
                           "caller": {"type": "direct"}})
        return blocks

    def _message(self, rec, b: Behavior, content: list, stop_reason, usage: dict) -> dict:
        return {"id": new_id("msg_fake"), "type": "message", "role": "assistant",
                "model": b.model or (rec.body or {}).get("model") or "claude-sonnet-4-6",
                "content": content, "stop_reason": stop_reason, "stop_sequence": None,
                "stop_details": None, "container": None, "usage": usage}

    # ------------------------------------------------------------------ routes
    async def messages(self, request, rec, b: Behavior):
        problem = tool_pairing_problem(rec.body or {})
        if problem is None and (rec.headers.get("anthropic-version") or "") >= STRICT_VERSION:
            problem = version_problem(rec.body or {})
        if problem:
            return JsonReply({"type": "error", "error": {"type": "invalid_request_error", "message": problem},
                              "request_id": new_id("req_fake", 20)}, status=400)
        blocks = self._blocks(b)
        stop = b.finish_reason or ("tool_use" if any(x["type"] == "tool_use" for x in blocks) else "end_turn")
        if not (rec.body or {}).get("stream"):
            return JsonReply(self._message(rec, b, blocks, stop, self.usage(b)))
        start = self._message(rec, b, [], None, self.usage(b, output_tokens=1))
        evs: list[dict] = [{"type": "message_start", "message": start}, {"type": "ping"}]
        for i, blk in enumerate(blocks):
            if blk["type"] == "thinking":
                evs.append({"type": "content_block_start", "index": i,
                            "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
                evs += [{"type": "content_block_delta", "index": i,
                         "delta": {"type": "thinking_delta", "thinking": p}} for p in b.text_chunks(blk["thinking"])]
                evs.append({"type": "content_block_delta", "index": i,
                            "delta": {"type": "signature_delta", "signature": blk["signature"]}})
            elif blk["type"] == "text":
                evs.append({"type": "content_block_start", "index": i,
                            "content_block": {"type": "text", "text": "", "citations": None}})
                evs += [{"type": "content_block_delta", "index": i,
                         "delta": {"type": "text_delta", "text": p}} for p in b.text_chunks(blk["text"])]
            else:
                evs.append({"type": "content_block_start", "index": i,
                            "content_block": {**blk, "input": {}}})
                args = json.dumps(blk["input"], separators=(",", ":"))
                evs += [{"type": "content_block_delta", "index": i,
                         "delta": {"type": "input_json_delta", "partial_json": p}} for p in b.text_chunks(args)]
            evs.append({"type": "content_block_stop", "index": i})
        evs.append({"type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None, "stop_details": None, "container": None},
                    "usage": self.delta_usage(b)})
        evs.append({"type": "message_stop"})
        err = self.error_body(b.status if b.status >= 400 else 529, b)
        error_event = ("error", {"type": "error", "error": err["error"]})
        return StreamReply([(e["type"], e) for e in evs], sse_framer(True), error_event=error_event)

    async def count_tokens(self, request, rec, b: Behavior):
        n = self.count_tokens_result if self.count_tokens_result is not None else b.get_usage().input_tokens
        return JsonReply({"input_tokens": n})

    def _model_obj(self, mid: str) -> dict:
        return {"type": "model", "id": mid, "display_name": mid.replace("-", " ").title(),
                "created_at": "2026-01-01T00:00:00Z", "capabilities": None,
                "max_input_tokens": 200000, "max_tokens": 64000}

    async def list_models(self, request, rec, b):
        data = [self._model_obj(m) for m in self.models]
        return JsonReply({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                          "last_id": data[-1]["id"] if data else None})

    async def get_model(self, request, rec, b):
        if rec.params["model"] not in self.models:
            return JsonReply(self.error_body(404, Behavior(status=404)), status=404)
        return JsonReply(self._model_obj(rec.params["model"]))
