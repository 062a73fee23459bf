"""Fake OpenAI upstream: chat/completions, completions, embeddings, models, responses, responses/compact.

Every route is served both with and without the ``/v1`` prefix (under an optional
``prefix``); ``fake.base_url`` is ``http://127.0.0.1:PORT[prefix]/v1``.
"""
from __future__ import annotations

import base64
import struct
import time
from typing import Any

from .fake_base import (Behavior, FakeUpstream, JsonReply, StreamReply, compile_routes, match_routes,
                        new_id, sse_framer)

_ERRORS = {  # status -> (type, code, default message)
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    409: ("invalid_request_error", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def embedding_vector(index: int, dim: int) -> list[float]:
    """The deterministic vector the fake returns for input ``index`` (exact in float32)."""
    return [round((index + 1) * 0.25 + j * 0.125, 3) for j in range(dim)]


class FakeOpenAI(FakeUpstream):
    provider = "openai"

    def __init__(self, prefix: str = "", embedding_dim: int = 8, models: list[str] | None = None):
        super().__init__(prefix)
        self.embedding_dim = embedding_dim
        self.models = models or ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "gpt-5.5"]
        v = r"(?:/v1)?"
        self._routes = compile_routes([
            ("POST", v + "/chat/completions", self.chat),
            ("POST", v + "/completions", self.completions),
            ("POST", v + "/embeddings", self.embeddings),
            # Azure OpenAI's deployment-scoped paths (with prefix="/openai")
            ("POST", r"/deployments/[^/]+/chat/completions", self.chat),
            ("POST", r"/deployments/[^/]+/embeddings", self.embeddings),
            ("GET", v + "/models", self.list_models),
            ("GET", v + r"/models/(?P<model>[^/]+)", self.get_model),
            ("POST", v + "/responses", self.responses),
            ("POST", v + "/responses/compact", self.compact),
        ])

    @property
    def base_url(self) -> str:
        return self.root_url + self.prefix + "/v1"

    def resolve(self, method, path):
        return match_routes(self._routes, method, path)

    def response_headers(self):
        return {"x-request-id": new_id("req_", 32), "openai-processing-ms": "1"}

    def error_body(self, status: int, b: Behavior) -> dict:
        etype, code, msg = _ERRORS.get(status, ("server_error" if status >= 500 else "invalid_request_error",
                                                None, f"HTTP {status}"))
        return {"error": {"message": b.error_message or msg, "type": b.error_type or etype,
                          "param": b.error_param, "code": b.error_code if b.error_code is not None else code}}

    def _model(self, rec, b: Behavior) -> str:
        return b.model or (rec.body or {}).get("model") or "gpt-4o-mini"

    def _stream_error(self, b: Behavior) -> dict:
        return self.error_body(b.status if b.status >= 400 else 500, b)

    # ------------------------------------------------------------------ usage
    @staticmethod
    def chat_usage(b: Behavior) -> dict:
        u = b.get_usage()
        return {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
                "total_tokens": u.total_tokens,
                "prompt_tokens_details": {"cached_tokens": u.cached_tokens, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}

    @staticmethod
    def responses_usage(b: Behavior) -> dict:
        u = b.get_usage()
        return {"input_tokens": u.input_tokens,
                "input_tokens_details": {"cached_tokens": u.cached_tokens, "cache_write_tokens": 0},
                "output_tokens": u.output_tokens,
                "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
                "total_tokens": u.total_tokens}

    # ------------------------------------------------------------------ chat
    async def chat(self, request, rec, b: Behavior):
        body = rec.body or {}
        cid, created, model = new_id("chatcmpl-"), int(time.time()), self._model(rec, b)
        n = int(body.get("n") or 1)
        text, tools = b.get_text(), b.get_tool_calls()
        finish = b.finish_reason or ("tool_calls" if tools else "stop")
        if not body.get("stream"):
            choices = []
            for i in range(n):
                msg: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
                if b.reasoning is not None:
                    msg["reasoning_content"] = b.reasoning
                if tools:
                    msg["tool_calls"] = [{"id": t.id, "type": "function",
                                          "function": {"name": t.name, "arguments": t.arguments_json}}
                                         for t in tools]
                choices.append({"index": i, "message": msg, "logprobs": None, "finish_reason": finish})
            return JsonReply({"id": cid, "object": "chat.completion", "created": created, "model": model,
                              "choices": choices, "usage": self.chat_usage(b), "service_tier": "default",
                              "system_fingerprint": "fp_fake"})
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(i: int, delta: dict, finish_reason=None) -> tuple[None, dict]:
            c = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "system_fingerprint": "fp_fake", "service_tier": "default",
                 "choices": [{"index": i, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
            if include_usage:
                c["usage"] = None
            return None, c

        events = []
        for i in range(n):
            events.append(chunk(i, {"role": "assistant", "content": "", "refusal": None}))
            if b.reasoning:
                events += [chunk(i, {"reasoning_content": p}) for p in b.text_chunks(b.reasoning)]
            if text:
                events += [chunk(i, {"content": p}) for p in b.text_chunks(text)]
            for ti, t in enumerate(tools):
                events.append(chunk(i, {"tool_calls": [{"index": ti, "id": t.id, "type": "function",
                                                        "function": {"name": t.name, "arguments": ""}}]}))
                events += [chunk(i, {"tool_calls": [{"index": ti, "function": {"arguments": p}}]})
                           for p in b.text_chunks(t.arguments_json)]
            events.append(chunk(i, {}, finish))
        if include_usage:
            events.append((None, {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                  "system_fingerprint": "fp_fake", "service_tier": "default", "choices": [],
                                  "usage": self.chat_usage(b)}))
        events.append((None, "[DONE]"))
        return StreamReply(events, sse_framer(False), error_event=(None, self._stream_error(b)))

    # ------------------------------------------------------------------ legacy completions
    async def completions(self, request, rec, b: Behavior):
        body = rec.body or {}
        prompt = body.get("prompt", "")
        prompts = prompt if isinstance(prompt, list) and prompt and isinstance(prompt[0], (str, list)) \
            else [prompt]
        prompts = [p if isinstance(p, str) else " ".join(map(str, p)) for p in prompts]
        n, echo = int(body.get("n") or 1), bool(body.get("echo"))
        cid, created, model = new_id("cmpl-"), int(time.time()), self._model(rec, b)
        text = b.text if b.text is not None else " " + "Hello from the fake model."
        finish = b.finish_reason or "stop"
        usage = self.chat_usage(b)
        usage.pop("prompt_tokens_details"), usage.pop("completion_tokens_details")
        base = {"id": cid, "object": "text_completion", "created": created, "model": model,
                "system_fingerprint": "fp_fake"}
        if not body.get("stream"):
            choices = [{"index": pi * n + j, "text": (p if echo else "") + text, "logprobs": None,
                        "finish_reason": finish} for pi, p in enumerate(prompts) for j in range(n)]
            return JsonReply({**base, "choices": choices, "usage": usage})
        events = []
        for pi, p in enumerate(prompts):
            for j in range(n):
                idx = pi * n + j
                pieces = ([p] if echo else []) + b.text_chunks(text)
                events += [(None, {**base, "choices": [{"index": idx, "text": piece, "logprobs": None,
                                                        "finish_reason": None}]}) for piece in pieces]
                events.append((None, {**base, "choices": [{"index": idx, "text": "", "logprobs": None,
                                                           "finish_reason": finish}]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append((None, {**base, "choices": [], "usage": usage}))
        events.append((None, "[DONE]"))
        return StreamReply(events, sse_framer(False), error_event=(None, self._stream_error(b)))

    # ------------------------------------------------------------------ embeddings
    async def embeddings(self, request, rec, b: Behavior):
        body = rec.body or {}
        inp = body.get("input", "")
        if isinstance(inp, str) or (isinstance(inp, list) and inp and isinstance(inp[0], int)):
            inp = [inp]
        dim = int(body.get("dimensions") or self.embedding_dim)
        fmt = body.get("encoding_format") or "float"
        data = []
        for i, _ in enumerate(inp):
            vec = embedding_vector(i, dim)
            emb: Any = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode() if fmt == "base64" else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        u = b.get_usage()
        return JsonReply({"object": "list", "data": data, "model": self._model(rec, b),
                          "usage": {"prompt_tokens": u.input_tokens, "total_tokens": u.input_tokens}})

    # ------------------------------------------------------------------ models
    def _model_obj(self, mid: str) -> dict:
        return {"id": mid, "object": "model", "created": 1700000000, "owned_by": "openai"}

    async def list_models(self, request, rec, b):
        return JsonReply({"object": "list", "data": [self._model_obj(m) for m in self.models]})

    async def get_model(self, request, rec, b):
        if rec.params["model"] not in self.models:
            return JsonReply(self.error_body(404, Behavior(status=404)), status=404)
        return JsonReply(self._model_obj(rec.params["model"]))

    # ------------------------------------------------------------------ responses
    def _response_obj(self, rec, b: Behavior, rid: str, created: int, status: str, output: list,
                      usage: dict | None) -> dict:
        body = rec.body or {}
        fmt = (body.get("text") or {}).get("format") or {"type": "text"}
        if fmt.get("type") == "json_schema":      # echoed with every key, as OpenAI does
            fmt = {"type": "json_schema", "name": fmt.get("name"), "description": fmt.get("description"),
                   "schema": fmt.get("schema"), "strict": bool(fmt.get("strict"))}
        tools = [{"type": "function", "name": t.get("name"), "description": t.get("description"),
                  "parameters": t.get("parameters"), "strict": t.get("strict", True)}
                 for t in body.get("tools") or [] if t.get("type") == "function"]
        return {
            "id": rid, "object": "response", "created_at": created, "status": status,
            "completed_at": created if status == "completed" else None, "background": False,
            "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"), "max_tool_calls": None,
            "model": self._model(rec, b), "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"), "prompt_cache_key": body.get("prompt_cache_key"),
            "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
            "safety_identifier": None, "service_tier": "default", "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": fmt, "verbosity": (body.get("text") or {}).get("verbosity", "medium")},
            "tool_choice": body.get("tool_choice", "auto"), "tools": tools, "top_logprobs": 0,
            "top_p": body.get("top_p", 1.0), "truncation": "disabled",
            "presence_penalty": body.get("presence_penalty", 0.0),
            "frequency_penalty": body.get("frequency_penalty", 0.0),
            "usage": usage, "metadata": body.get("metadata") or {},  # usage: null in the created/in_progress snapshots
        }

    def _output_items(self, b: Behavior) -> list[dict]:
        items = []
        if b.reasoning is not None:
            items.append({"id": new_id("rs_"), "type": "reasoning", "encrypted_content": "ZmFrZS1lbmNyeXB0ZWQ=",
                          "summary": [{"type": "summary_text", "text": b.reasoning}]})
        text = b.get_text()
        if text is not None:
            items.append({"id": new_id("msg_"), "type": "message", "status": "completed", "role": "assistant",
                          "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
        for t in b.get_tool_calls():
            items.append({"id": new_id("fc_"), "type": "function_call", "status": "completed",
                          "call_id": t.id, "name": t.name, "arguments": t.arguments_json})
        return items

    @staticmethod
    def _orphan_output(body: dict) -> str | None:
        """The call_id of a tool output that answers no call in the input (OpenAI answers 400)."""
        if body.get("previous_response_id") or not isinstance(body.get("input"), list):
            return None                      # the call may be in the stored response
        calls = set()
        for item in body["input"]:
            if item.get("type") in ("function_call", "custom_tool_call"):
                calls.add(item.get("call_id"))
            elif item.get("type") == "compaction":
                return None
            elif item.get("type") in ("function_call_output", "custom_tool_call_output") \
                    and item.get("call_id") not in calls:
                return str(item.get("call_id"))
        return None

    async def responses(self, request, rec, b: Behavior):
        rid, created = new_id("resp_"), int(time.time())
        if (orphan := self._orphan_output(rec.body or {})) is not None and b.status < 400:
            return JsonReply({"error": {"message": f"No tool call found for function call output with call_id "
                                                   f"{orphan}.", "type": "invalid_request_error",
                                        "param": "input", "code": None}}, status=400)
        items = self._output_items(b)
        # finish_reason="max_output_tokens" (or "content_filter"): an incomplete response
        incomplete = b.finish_reason in ("max_output_tokens", "content_filter")
        final = self._response_obj(rec, b, rid, created, "incomplete" if incomplete else "completed", items,
                                   self.responses_usage(b))
        if incomplete:
            final.update(completed_at=None, incomplete_details={"reason": b.finish_reason})
        if not (rec.body or {}).get("stream"):
            return JsonReply(final)
        start = self._response_obj(rec, b, rid, created, "in_progress", [], None)
        evs: list[dict] = [{"type": "response.created", "response": start},
                           {"type": "response.in_progress", "response": start}]
        for oi, item in enumerate(items):
            iid, kind = item["id"], item["type"]
            if kind == "reasoning":
                evs.append({"type": "response.output_item.added", "output_index": oi,
                            "item": {**item, "summary": []}})
                summary = item["summary"][0]["text"]
                part = {"type": "summary_text", "text": ""}
                common = {"item_id": iid, "output_index": oi, "summary_index": 0}
                evs.append({"type": "response.reasoning_summary_part.added", **common, "part": part})
                evs += [{"type": "response.reasoning_summary_text.delta", **common, "delta": p}
                        for p in b.text_chunks(summary)]
                evs.append({"type": "response.reasoning_summary_text.done", **common, "text": summary})
                evs.append({"type": "response.reasoning_summary_part.done", **common,
                            "part": {**part, "text": summary}})
            elif kind == "message":
                evs.append({"type": "response.output_item.added", "output_index": oi,
                            "item": {**item, "status": "in_progress", "content": []}})
                text = item["content"][0]["text"]
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                common = {"item_id": iid, "output_index": oi, "content_index": 0}
                evs.append({"type": "response.content_part.added", **common, "part": part})
                evs += [{"type": "response.output_text.delta", **common, "delta": p, "logprobs": []}
                        for p in b.text_chunks(text)]
                evs.append({"type": "response.output_text.done", **common, "text": text, "logprobs": []})
                evs.append({"type": "response.content_part.done", **common, "part": {**part, "text": text}})
            else:
                evs.append({"type": "response.output_item.added", "output_index": oi,
                            "item": {**item, "status": "in_progress", "arguments": ""}})
                common = {"item_id": iid, "output_index": oi}
                evs += [{"type": "response.function_call_arguments.delta", **common, "delta": p}
                        for p in b.text_chunks(item["arguments"])]
                evs.append({"type": "response.function_call_arguments.done", **common, "name": item["name"],
                            "arguments": item["arguments"]})
            evs.append({"type": "response.output_item.done", "output_index": oi, "item": item})
        evs.append({"type": f"response.{final['status']}", "response": final})
        for seq, e in enumerate(evs):
            e["sequence_number"] = seq
        err = self._stream_error(b)["error"]
        error_event = ("error", {"type": "error", "code": err["code"] or err["type"], "message": err["message"],
                                 "param": err["param"], "sequence_number": len(evs)})
        return StreamReply([(e["type"], e) for e in evs], sse_framer(True), error_event=error_event)


    async def compact(self, request, rec, b: Behavior):
        """The user's messages, then one compaction item (OpenAI encrypts it; the fake does not)."""
        items = (rec.body or {}).get("input") or []
        items = [{"type": "message", "role": "user", "content": items}] if isinstance(items, str) else items
        kept = [{"id": i.get("id") or new_id("msg_"), "type": "message", "status": "completed", "role": "user",
                 "content": [{"type": "input_text", "text": i["content"]}] if isinstance(i["content"], str)
                 else i["content"]} for i in items if i.get("role") == "user"]
        summary = base64.b64encode((b.get_text() or "").encode()).decode()
        return JsonReply({"id": new_id("resp_"), "object": "response.compaction", "created_at": int(time.time()),
                          "output": [*kept, {"id": new_id("cmp_"), "type": "compaction", "encrypted_content": summary}],
                          "usage": self.responses_usage(b)})


def decode_base64_embedding(s: str) -> list[float]:
    raw = base64.b64decode(s)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


__all__ = ["FakeOpenAI", "embedding_vector", "decode_base64_embedding"]
