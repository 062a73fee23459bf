"""Client speaks Gemini countTokens; backend is Anthropic count_tokens (an exact count, not an estimate)."""

from __future__ import annotations

from typing import Any

from plugins.translate.convert import anthropic, gemini_client
from proxy.translation import TranslateOptions


def translate_request(body: dict[str, Any], *, model: str, options: TranslateOptions | None = None) -> dict[str, Any]:
    opts = options or TranslateOptions()
    opts.stream = False
    inner = body.get("generateContentRequest") or {"contents": body.get("contents") or []}
    chat = gemini_client.request_to_chat(inner, opts)
    request = anthropic.request_from_chat(chat, model, opts)
    for k in ("max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "metadata", "stream"):
        request.pop(k, None)                        # count_tokens takes the prompt only
    return request


def translate_response(body: dict[str, Any], *, model: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    n = int(body.get("input_tokens") or 0)
    return {"totalTokens": n}


def translate_error(status: int, body: bytes) -> tuple[int, dict[str, Any]]:
    return gemini_client.error_from_chat(*anthropic.error_to_chat(status, body))
