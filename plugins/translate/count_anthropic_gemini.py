"""Client speaks Anthropic count_tokens; backend is Gemini countTokens (an exact count, not an estimate)."""

from __future__ import annotations

from typing import Any

from plugins.translate.convert import anthropic_client, gemini
from proxy.translation import TranslateOptions


def translate_request(body: dict[str, Any], *, model: str, options: TranslateOptions | None = None) -> dict[str, Any]:
    opts = options or TranslateOptions()
    opts.stream = False
    chat = anthropic_client.request_to_chat({**body, "max_tokens": None}, opts)
    chat.pop("max_tokens", None)
    request = gemini.request_from_chat(chat, model, opts)
    request.pop("generationConfig", None)          # sampling does not change the prompt's size
    return {"generateContentRequest": {"model": f"models/{model}", **request}}


def translate_response(body: dict[str, Any], *, model: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"input_tokens": int(body.get("totalTokens") or 0)}


def translate_error(status: int, body: bytes) -> tuple[int, dict[str, Any]]:
    return anthropic_client.error_from_chat(*gemini.error_to_chat(status, body))
