"""The OpenAI Embeddings wire format (``openai.embeddings``): validation, usage, errors.

``input`` is a string, a list of strings, a token array or a list of token
arrays. ``encoding_format`` may be ``base64``, which the openai SDK sends by
default; the provider's answer passes through untouched, so base64 vectors
reach the client as the provider encoded them. The reference's optional
``instruction`` is handled by :mod:`plugins.unified.reference_params`.
"""

from __future__ import annotations

from typing import Any

from proxy.checks import int_at_least, is_int, one_of
from plugins.openai.errors import openai_error_body, openai_quota_exhausted
from plugins.openai.schemas import EMBEDDINGS
from proxy import hookimpl
from proxy.apis import Api, ApiRegistry
from proxy.usage import Usage
from proxy.errors import GatewayError, RequestRejected

MAX_INPUTS = 2048


def _is_tokens(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(is_int(t) for t in v)


def validate_input(value: Any) -> None:
    if isinstance(value, str) or _is_tokens(value):
        return
    if not isinstance(value, list) or not value:
        raise RequestRejected("'input' is required: a string, a list of strings or token arrays", param="input")
    if len(value) > MAX_INPUTS:
        raise RequestRejected(f"'input' allows at most {MAX_INPUTS} items, got {len(value)}", param="input")
    for i, item in enumerate(value):
        if not isinstance(item, str) and not _is_tokens(item):
            raise RequestRejected(f"'input[{i}]' must be a string or a non-empty list of token ids",
                                  param=f"input[{i}]")


class OpenAIEmbeddings(Api):
    id = "openai.embeddings"
    request_schema = EMBEDDINGS
    capped = (("input", "max_embedding_inputs"),)

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        validate_input(body.get("input"))
        one_of(body, "encoding_format", ("float", "base64"))
        int_at_least(body, "dimensions", 1)
        for name in ("instruction", "user"):
            v = body.get(name)
            if v is not None and not isinstance(v, str):
                raise RequestRejected(f"'{name}' must be a string, got {type(v).__name__}", param=name)

    def is_stream(self, body: dict[str, Any]) -> bool:
        return False

    def usage_from_body(self, body: Any) -> Usage:
        u = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(u, dict):
            return Usage()
        return Usage(input_tokens=u.get("prompt_tokens") or 0, total_tokens=u.get("total_tokens") or 0)

    def error_body(self, err: GatewayError, request_id: str) -> dict[str, Any]:
        return openai_error_body(err, request_id)

    def quota_exhausted(self, body: bytes) -> bool:
        return openai_quota_exhausted(body)

    def max_output_tokens(self, body: dict[str, Any]) -> int:
        return 0


@hookimpl
def relaygate_register_apis(registry: ApiRegistry) -> None:
    registry.add(OpenAIEmbeddings())
