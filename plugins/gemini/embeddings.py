"""Client speaks OpenAI embeddings; backend is Gemini batchEmbedContents (one request per input, in order).

``dimensions`` -> ``outputDimensionality``; ``encoding_format: base64`` (the openai SDK's default) is
honoured by packing the returned floats as little-endian float32. Gemini reports no token usage for
embeddings, so usage is 0. Token-id inputs (lists of integers, LangChain's ``OpenAIEmbeddings`` default)
are refused with 400 naming ``input`` whatever the policy: Gemini embeds text, and token ids of an
unknown tokenizer cannot be turned back into it (dropping them would answer an empty list).
The answer has an ``id``, as the reference's embeddings response does.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from plugins.gemini.backend import error_to_chat
from plugins.openai.chat_sides import ChatClient
from plugins.translate.pivot import new_id
from proxy.errors import RequestRejected
from proxy.exchange import Exchange, TranslateOptions


class EmbeddingsOnGemini(Exchange):
    """OpenAI embeddings in, Gemini batchEmbedContents out."""

    passthrough = False

    def request(self, body: dict[str, Any], *, model: str, options: TranslateOptions) -> dict[str, Any]:
        return translate_request(body, model=model, options=options)

    def response(self, body: Any, *, model: str, request: dict[str, Any]) -> dict[str, Any]:
        return translate_response(body, model=model, request=request)

    def error(self, status: int, body: bytes) -> tuple[int, dict[str, Any]]:
        return ChatClient().error_from_chat(*error_to_chat(status, body))


def translate_request(body: dict[str, Any], *, model: str, options: TranslateOptions) -> dict[str, Any]:
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    texts = []
    for item in inputs or []:
        if isinstance(item, str):
            texts.append(item)
        else:
            raise RequestRejected("'input' holds token ids, but this endpoint's provider (Gemini) embeds text "
                                  "only: send strings (LangChain: OpenAIEmbeddings(check_embedding_ctx_length="
                                  "False))", param="input")
    requests = []
    for text in texts:
        r: dict[str, Any] = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}}
        if body.get("dimensions"):
            r["outputDimensionality"] = body["dimensions"]
        requests.append(r)
    return {"requests": requests}


def translate_response(body: dict[str, Any], *, model: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    b64 = (request or {}).get("encoding_format") == "base64"
    data = []
    for i, e in enumerate(body.get("embeddings") or []):
        values = e.get("values") or []
        vec: Any = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode() if b64 else values
        data.append({"object": "embedding", "index": i, "embedding": vec})
    return {"id": new_id("emb-"), "object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": 0, "total_tokens": 0}}
