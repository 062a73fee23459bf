"""One driver per client surface: the official SDK doing each matrix scenario.

Every HTTP exchange goes through :class:`Recorder`, so each response body and
stream the client received is validated against the SDKs' wire models afterwards (support/specs.py).
Drivers return plain facts (text, tool calls, usage) for the scenarios to check.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2 as httpx
import openai
from google import genai
from google.genai import types
from support.gateway import TEST_KEY
from support.specs import (validate_anthropic, validate_anthropic_stream, validate_gemini, validate_gemini_sse,
                           validate_openai, validate_openai_chat_stream, validate_responses_stream)

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082")).decode()
TOOL = {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
          "additionalProperties": False}


class Recorder(httpx.BaseTransport):
    """Tees every response body the SDK reads."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.exchanges: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.inner.handle_request(request)
        rec: dict[str, Any] = {"url": str(request.url), "status": resp.status_code,
                               "ctype": resp.headers.get("content-type", ""), "body": bytearray(),
                               "headers": dict(resp.headers)}
        self.exchanges.append(rec)
        inner = resp.stream

        class Tee(httpx.SyncByteStream):
            def __iter__(self):  # type: ignore[no-untyped-def]
                for chunk in inner:                      # type: ignore[union-attr]
                    rec["body"] += chunk
                    yield chunk

            def close(self) -> None:
                inner.close()                            # type: ignore[union-attr]

        return httpx.Response(resp.status_code, headers=resp.headers, stream=Tee(), extensions=resp.extensions,
                              request=request)


@dataclass
class Turn:
    text: str = ""
    reasoning: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)     # {"id", "name", "args"}
    usage: tuple[int, int] | None = None                          # (input, output)
    replay: Any = None                                            # what the client sends back next turn


class Driver:
    surface = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self.rec = Recorder()
        self.http = httpx.Client(transport=self.rec, timeout=30)

    def validate(self) -> None:
        for ex in self.rec.exchanges:
            self.check(ex["status"], ex["ctype"], bytes(ex["body"]))

    def check(self, status: int, ctype: str, body: bytes) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------- chat

class ChatDriver(Driver):
    surface = "chat"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.client = openai.OpenAI(base_url=url + "/v1", api_key=TEST_KEY, max_retries=0, http_client=self.http)

    def check(self, status: int, ctype: str, body: bytes) -> None:
        if status >= 400:
            validate_openai("ErrorResponse", json.loads(body))
        elif "event-stream" in ctype:
            validate_openai_chat_stream(body)
        else:
            validate_openai("CreateChatCompletionResponse", json.loads(body))

    def turn(self, model: str, messages: list, *, stream: bool = False, tools: bool = False, **kw: Any) -> Turn:
        if tools:
            kw["tools"] = [{"type": "function", "function": TOOL}]
        if not stream:
            r = self.client.chat.completions.create(model=model, messages=messages, **kw)
            m = r.choices[0].message
            msg = m.model_dump(exclude_none=True)
            return Turn(m.content or "", msg.get("reasoning_content", ""),
                        [{"id": t.id, "name": t.function.name, "args": json.loads(t.function.arguments)}
                         for t in m.tool_calls or []], (r.usage.prompt_tokens, r.usage.completion_tokens), msg)
        s = self.client.chat.completions.create(model=model, messages=messages, stream=True,
                                                stream_options={"include_usage": True}, **kw)
        text, reasoning, blocks, calls, usage, extra = [], [], [], {}, None, None
        for c in s:
            if c.usage:
                usage = (c.usage.prompt_tokens, c.usage.completion_tokens)
            for ch in c.choices:
                d = ch.delta.model_dump(exclude_none=True)
                text.append(d.get("content") or "")
                reasoning.append(d.get("reasoning_content") or "")
                blocks += d.get("thinking_blocks") or []
                extra = d.get("extra_content") or extra
                for tc in d.get("tool_calls") or []:
                    cur = calls.setdefault(tc["index"], {"id": None, "name": "", "args": "", "extra": None})
                    cur["id"] = tc.get("id") or cur["id"]
                    cur["name"] += (tc.get("function") or {}).get("name") or ""
                    cur["args"] += (tc.get("function") or {}).get("arguments") or ""
                    cur["extra"] = tc.get("extra_content") or cur["extra"]
        msg: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
        if "".join(reasoning):
            msg["reasoning_content"] = "".join(reasoning)
        if blocks:
            msg["thinking_blocks"] = blocks
        if extra:
            msg["extra_content"] = extra
        if calls:
            msg["tool_calls"] = [{"id": c["id"], "type": "function", "function": {"name": c["name"],
                                                                                 "arguments": c["args"]},
                                  **({"extra_content": c["extra"]} if c["extra"] else {})}
                                 for _, c in sorted(calls.items())]
        return Turn("".join(text), "".join(reasoning),
                    [{"id": c["id"], "name": c["name"], "args": json.loads(c["args"] or "{}")}
                     for _, c in sorted(calls.items())], usage, msg)

    def first(self, prompt: str) -> list:
        return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]

    def follow(self, history: list, t: Turn, results: list[str]) -> list:
        return history + [t.replay] + [{"role": "tool", "tool_call_id": c["id"], "content": r}
                                       for c, r in zip(t.calls, results)]

    def then(self, history: list, t: Turn, prompt: str) -> list:
        return history + [t.replay, {"role": "user", "content": prompt}]

    def image(self, prompt: str) -> list:
        return [{"role": "user", "content": [{"type": "text", "text": prompt}, {
            "type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}]

    def structured(self, model: str, prompt: str) -> Turn:
        return self.turn(model, self.first(prompt), response_format={
            "type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}})

    def reasoning_kw(self) -> dict[str, Any]:
        return {"reasoning_effort": "medium", "max_completion_tokens": 20000}

    def error_status(self, model: str) -> int:
        try:
            self.turn(model, self.first("hi"))
        except openai.APIStatusError as exc:
            return exc.status_code
        return 200


# ---------------------------------------------------------------------------------------- responses

class ResponsesDriver(ChatDriver):
    surface = "responses"

    def __init__(self, url: str) -> None:
        Driver.__init__(self, url)
        self.client = openai.OpenAI(base_url=url + "/openai/v1", api_key=TEST_KEY, max_retries=0,
                                    http_client=self.http)

    def check(self, status: int, ctype: str, body: bytes) -> None:
        if status >= 400:
            validate_openai("ErrorResponse", json.loads(body))
        elif "event-stream" in ctype:
            validate_responses_stream(body)
        else:
            validate_openai("Response", json.loads(body))

    def turn(self, model: str, messages: list, *, stream: bool = False, tools: bool = False, **kw: Any) -> Turn:
        if tools:
            kw["tools"] = [{"type": "function", **TOOL}]
        kw = dict(kw)
        if "max_completion_tokens" in kw:
            kw["max_output_tokens"] = kw.pop("max_completion_tokens")
        if stream:
            items, usage = [], None
            for ev in self.client.responses.create(model=model, input=messages, stream=True, store=False, **kw):
                if ev.type == "response.output_item.done":
                    items.append(ev.item)
                if ev.type in ("response.completed", "response.incomplete"):
                    usage = ev.response.usage
        else:
            r = self.client.responses.create(model=model, input=messages, store=False, **kw)
            items, usage = r.output, r.usage
        replay = [i.model_dump(exclude_none=True) for i in items]
        text = "".join(c.text for i in items if i.type == "message" for c in i.content if c.type == "output_text")
        reasoning = "".join(s.text for i in items if i.type == "reasoning" for s in i.summary)
        calls = [{"id": i.call_id, "name": i.name, "args": json.loads(i.arguments)} for i in items
                 if i.type == "function_call"]
        return Turn(text, reasoning, calls, (usage.input_tokens, usage.output_tokens) if usage else None, replay)

    def first(self, prompt: str) -> list:
        return [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": prompt}]

    def follow(self, history: list, t: Turn, results: list[str]) -> list:
        return history + t.replay + [{"type": "function_call_output", "call_id": c["id"], "output": r}
                                     for c, r in zip(t.calls, results)]

    def then(self, history: list, t: Turn, prompt: str) -> list:
        return history + t.replay + [{"role": "user", "content": prompt}]

    def image(self, prompt: str) -> list:
        return [{"role": "user", "content": [{"type": "input_text", "text": prompt}, {
            "type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}]}]

    def structured(self, model: str, prompt: str) -> Turn:
        return self.turn(model, self.first(prompt), text={"format": {"type": "json_schema", "name": "answer",
                                                                     "schema": SCHEMA, "strict": True}})

    def reasoning_kw(self) -> dict[str, Any]:
        return {"reasoning": {"effort": "medium"}, "include": ["reasoning.encrypted_content"],
                "max_completion_tokens": 20000}


# ---------------------------------------------------------------------------------------- anthropic

class AnthropicDriver(Driver):
    surface = "anthropic"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.client = anthropic.Anthropic(api_key="unused", base_url=url + "/anthropic", max_retries=0,
                                          default_headers={"Authorization": f"Bearer {TEST_KEY}"},
                                          http_client=self.http)

    def check(self, status: int, ctype: str, body: bytes) -> None:
        if status >= 400:
            validate_anthropic("ErrorResponse", json.loads(body))
        elif "event-stream" in ctype:
            validate_anthropic_stream(body)
        else:
            validate_anthropic("Message", json.loads(body))

    def turn(self, model: str, messages: list, *, stream: bool = False, tools: bool = False, **kw: Any) -> Turn:
        system, msgs = messages
        if tools:
            kw["tools"] = [{"name": TOOL["name"], "description": TOOL["description"],
                            "input_schema": TOOL["parameters"]}]
        kw.setdefault("max_tokens", 1024)
        if stream:
            with self.client.messages.stream(model=model, system=system, messages=msgs, **kw) as s:
                m = s.get_final_message()
        else:
            m = self.client.messages.create(model=model, system=system, messages=msgs, **kw)
        text = "".join(b.text for b in m.content if b.type == "text")
        reasoning = "".join(b.thinking for b in m.content if b.type == "thinking")
        calls = [{"id": b.id, "name": b.name, "args": b.input} for b in m.content if b.type == "tool_use"]
        replay = {"role": "assistant", "content": [b.model_dump(exclude_none=True, exclude={"caller", "citations"})
                                                   for b in m.content]}
        return Turn(text, reasoning, calls, (m.usage.input_tokens, m.usage.output_tokens), replay)

    def first(self, prompt: str) -> Any:
        return ("Be brief.", [{"role": "user", "content": prompt}])

    def follow(self, history: Any, t: Turn, results: list[str]) -> Any:
        system, msgs = history
        return (system, msgs + [t.replay, {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c["id"], "content": r} for c, r in zip(t.calls, results)]}])

    def then(self, history: Any, t: Turn, prompt: str) -> Any:
        system, msgs = history
        return (system, msgs + [t.replay, {"role": "user", "content": prompt}])

    def image(self, prompt: str) -> Any:
        return ("Be brief.", [{"role": "user", "content": [{"type": "text", "text": prompt}, {
            "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}])

    def structured(self, model: str, prompt: str) -> Turn:
        return self.turn(model, self.first(prompt),
                         extra_body={"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}})

    def reasoning_kw(self) -> dict[str, Any]:
        return {"thinking": {"type": "enabled", "budget_tokens": 8000}, "max_tokens": 20000}

    def error_status(self, model: str) -> int:
        try:
            self.turn(model, self.first("hi"))
        except anthropic.APIStatusError as exc:
            return exc.status_code
        return 200


# ---------------------------------------------------------------------------------------- gemini

class GeminiDriver(Driver):
    surface = "gemini"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.client = genai.Client(api_key="x", http_options=types.HttpOptions(
            base_url=url + "/gemini", api_version="v1beta", headers={"Authorization": f"Bearer {TEST_KEY}"},
            httpx_client=self.http))

    def check(self, status: int, ctype: str, body: bytes) -> None:
        if status >= 400:
            err = json.loads(body)["error"]
            assert isinstance(err["code"], int) and isinstance(err["status"], str) and err["message"], err
        elif "event-stream" in ctype:
            validate_gemini_sse(body)
        else:
            validate_gemini("GenerateContentResponse", json.loads(body))

    def turn(self, model: str, messages: list, *, stream: bool = False, tools: bool = False, **kw: Any) -> Turn:
        system, contents = messages
        cfg: dict[str, Any] = {"system_instruction": system, **kw}
        if tools:
            cfg["tools"] = [types.Tool(function_declarations=[types.FunctionDeclaration(
                name=TOOL["name"], description=TOOL["description"], parameters_json_schema=TOOL["parameters"])])]
        config = types.GenerateContentConfig(**cfg)
        if stream:
            parts, usage = [], None
            for ch in self.client.models.generate_content_stream(model=model, contents=contents, config=config):
                if ch.candidates and ch.candidates[0].content and ch.candidates[0].content.parts:
                    parts += ch.candidates[0].content.parts
                usage = ch.usage_metadata or usage
        else:
            r = self.client.models.generate_content(model=model, contents=contents, config=config)
            parts, usage = list(r.candidates[0].content.parts or []), r.usage_metadata
        text = "".join(p.text or "" for p in parts if not p.thought and p.text)
        reasoning = "".join(p.text or "" for p in parts if p.thought)
        calls = [{"id": p.function_call.id, "name": p.function_call.name, "args": dict(p.function_call.args or {})}
                 for p in parts if p.function_call]
        replay = types.Content(role="model", parts=[p for p in parts if not p.thought and (p.text or p.function_call)])
        return Turn(text, reasoning, calls,
                    (usage.prompt_token_count, (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0))
                    if usage else None, replay)

    def first(self, prompt: str) -> Any:
        return ("Be brief.", [types.Content(role="user", parts=[types.Part(text=prompt)])])

    def follow(self, history: Any, t: Turn, results: list[str]) -> Any:
        system, contents = history
        resp = types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
            id=c["id"], name=c["name"], response={"output": r})) for c, r in zip(t.calls, results)])
        return (system, contents + [t.replay, resp])

    def then(self, history: Any, t: Turn, prompt: str) -> Any:
        system, contents = history
        return (system, contents + [t.replay, types.Content(role="user", parts=[types.Part(text=prompt)])])

    def image(self, prompt: str) -> Any:
        return ("Be brief.", [types.Content(role="user", parts=[
            types.Part(text=prompt), types.Part(inline_data=types.Blob(mime_type="image/png",
                                                                       data=base64.b64decode(PNG)))])])

    def structured(self, model: str, prompt: str) -> Turn:
        return self.turn(model, self.first(prompt), response_mime_type="application/json",
                         response_json_schema=SCHEMA)

    def reasoning_kw(self) -> dict[str, Any]:
        return {"thinking_config": types.ThinkingConfig(thinking_budget=8192, include_thoughts=True),
                "max_output_tokens": 20000}

    def error_status(self, model: str) -> int:
        from google.genai import errors
        try:
            self.turn(model, self.first("hi"))
        except errors.APIError as exc:
            return exc.code
        return 200


DRIVERS: dict[str, type[Driver]] = {"chat": ChatDriver, "responses": ResponsesDriver, "anthropic": AnthropicDriver,
                                    "gemini": GeminiDriver}
