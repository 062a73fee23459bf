"""Token counting across formats: exact where the provider counts, else a marked local estimate.

``count_tokens`` / ``countTokens`` on, say, an OpenAI-compatible model cannot
be exact; rather than a 400 or a silent guess, the gateway answers locally
(no provider call, so no ledger row) with ``x-relaygate-token-count: estimate``.
The estimate is the JSON size of what the model would read, at ~4 bytes a token.
"""

from __future__ import annotations

from typing import Any

import orjson

from plugins.anthropic import backend as anthropic_backend
from plugins.anthropic import client as anthropic_client
from plugins.gemini import backend as gemini_backend
from plugins.gemini import client as gemini_client
from proxy.exchange import Exchange, LocalExchange, TranslateOptions

BYTES_PER_TOKEN = 4
_COUNTED = ("system", "messages", "tools", "contents", "systemInstruction", "generateContentRequest")


class AnthropicCountOnGemini(Exchange):
    """Client speaks Anthropic count_tokens; backend is Gemini countTokens (an exact count)."""

    passthrough = False

    def request(self, body: dict[str, Any], *, model: str, options: TranslateOptions) -> dict[str, Any]:
        options.stream = False
        chat = anthropic_client.request_to_chat({**body, "max_tokens": None}, options)
        chat.pop("max_tokens", None)
        request = gemini_backend.request_from_chat(chat, model, options)
        request.pop("generationConfig", None)          # sampling does not change the prompt's size
        return {"generateContentRequest": {"model": f"models/{model}", **request}}

    def response(self, body: Any, *, model: str, request: dict[str, Any]) -> dict[str, Any]:
        return {"input_tokens": int(body.get("totalTokens") or 0)}

    def error(self, status: int, body: bytes) -> tuple[int, dict[str, Any]]:
        return anthropic_client.error_from_chat(*gemini_backend.error_to_chat(status, body))


class GeminiCountOnAnthropic(Exchange):
    """Client speaks Gemini countTokens; backend is Anthropic count_tokens (an exact count)."""

    passthrough = False

    def request(self, body: dict[str, Any], *, model: str, options: TranslateOptions) -> dict[str, Any]:
        options.stream = False
        inner = body.get("generateContentRequest") or {"contents": body.get("contents") or []}
        chat = gemini_client.request_to_chat(inner, options)
        request = anthropic_backend.request_from_chat(chat, model, options)
        for k in ("max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "metadata", "stream"):
            request.pop(k, None)                        # count_tokens takes the prompt only
        return request

    def response(self, body: Any, *, model: str, request: dict[str, Any]) -> dict[str, Any]:
        return {"totalTokens": int(body.get("input_tokens") or 0)}

    def error(self, status: int, body: bytes) -> tuple[int, dict[str, Any]]:
        return gemini_client.error_from_chat(*anthropic_backend.error_to_chat(status, body))


def estimate_tokens(body: dict[str, Any]) -> int:
    parts = {k: body[k] for k in _COUNTED if k in body}
    return max(1, -(-len(orjson.dumps(parts)) // BYTES_PER_TOKEN))


class CountEstimate(LocalExchange):
    """No counting API on the provider: answered locally, marked as an estimate."""

    answer_headers = {"x-relaygate-token-count": "estimate"}

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        n = estimate_tokens(body)
        return {"totalTokens": n} if self.client.id.startswith("gemini.") else {"input_tokens": n}
