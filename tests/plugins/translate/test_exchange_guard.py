"""Guard: passthrough and translation meter and refuse alike.

Every recorded golden provider answer (body and stream) goes through the
identity exchange of its provider format and through every translating
exchange onto that format: the usage the ledger would record is identical,
field by field. And a provider error status reaches a client of a given
format as the same client error whichever provider format it came from,
with the type the gateway's own errors of that status carry.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import orjson
import pytest

from proxy.errors import GatewayError
from support.exchanges import FORMATS, exchange, registries

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
PROVIDERS = ("openai.chat", "anthropic.messages", "gemini.generate")
CLIENTS = ("openai.chat", "openai.responses", "openai.completions", "anthropic.messages", "gemini.generate")


def golden_answers(provider_api: str) -> list[Path]:
    return sorted(p for p in GOLDEN.glob("*/*") if p.is_dir()
                  and FORMATS[p.parent.name.split("_", 1)[1]] == provider_api)


def routes_onto(provider_api: str) -> list[str]:
    """Client formats with a route onto *provider_api* (the identity first)."""
    _, exchanges = registries()
    return [provider_api] + [c for c in CLIENTS if c != provider_api and exchanges.get(c, provider_api)]


def stream_usage(client_api: str, provider_api: str, raw: bytes, request: dict, step: int) -> dict:
    st = exchange(client_api, provider_api).stream(model="m", request=request)
    for i in range(0, len(raw), step):
        st.feed(raw[i:i + step])
    st.finish()
    return asdict(st.usage)


@pytest.mark.parametrize("provider_api", PROVIDERS)
def test_usage_is_the_same_on_every_route(provider_api: str) -> None:
    cases = golden_answers(provider_api)
    assert cases, f"no golden answers recorded for {provider_api}"
    for case in cases:
        body = json.loads((case / "backend_response.json").read_text())
        raw = (case / "backend_stream.sse").read_bytes()
        request = json.loads((case / "client_request.json").read_text())
        want_body = asdict(exchange(provider_api, provider_api).usage(body).finish())
        want_stream = stream_usage(provider_api, provider_api, raw, {}, 1 << 20)
        assert want_body["input_tokens"] and want_stream["output_tokens"], case
        for client_api in routes_onto(provider_api)[1:]:
            got = asdict(exchange(client_api, provider_api).usage(body).finish())
            assert got == want_body, f"{case.name}: {client_api} -> {provider_api} body usage"
            for step in (7, 100, 1 << 20):
                got = stream_usage(client_api, provider_api, raw, request, step)
                assert got == want_stream, f"{case.name}: {client_api} -> {provider_api} stream usage (step {step})"


GOOGLE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
ANTHROPIC = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
             404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
             502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error"}


def provider_error(provider_api: str, status: int) -> bytes:
    """An error body as each provider sends it."""
    if provider_api == "anthropic.messages":
        return orjson.dumps({"type": "error", "error": {"type": ANTHROPIC[status], "message": "boom"}})
    if provider_api == "gemini.generate":
        return orjson.dumps({"error": {"code": status, "message": "boom", "status": GOOGLE[status]}})
    kind = {429: "rate_limit_error", 401: "authentication_error"}.get(status, "server_error" if status >= 500
                                                                        else "invalid_request_error")
    return orjson.dumps({"error": {"message": "boom", "type": kind, "param": None, "code": None}})


def client_error_kind(client_api: str, body: dict) -> str:
    if client_api == "gemini.generate":
        return str(body["error"]["status"])
    return str(body["error"]["type"])


#: what a provider's overload looks like: 529 from Anthropic, 503 from the others
OVERLOAD = {"anthropic.messages": 529, "openai.chat": 503, "gemini.generate": 503}


@pytest.mark.parametrize("client_api", CLIENTS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 502, "overload", 504])
def test_a_provider_error_reaches_a_client_the_same_way_on_every_route(client_api: str, status) -> None:
    apis, exchanges = registries()
    seen = {}
    for provider_api in PROVIDERS:
        ex = exchanges.get(client_api, provider_api)
        if ex is None:
            continue
        sent = OVERLOAD[provider_api] if status == "overload" else status
        got_status, body = ex.error(sent, provider_error(provider_api, sent))
        seen[provider_api] = (got_status, client_error_kind(client_api, body))
    assert seen, f"{client_api} has no translated route"
    assert len(set(seen.values())) == 1, f"{client_api}, provider status {status}: {seen}"
    got_status, kind = next(iter(seen.values()))
    # ... and the same type the gateway's own errors of that status carry for this client
    own = apis.get(client_api).error_body(GatewayError("x", status=got_status), "req_1")
    assert client_error_kind(client_api, own) == kind, f"{client_api} {got_status}: table {own} vs relay {kind}"
