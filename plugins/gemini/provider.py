"""The Gemini API (Generative Language API, ``type: gemini``), authenticated with an API key.

The model lives in the URL (``/v1beta/models/{model}:{method}``), never in
the body, except for the per-request ``model`` of batchEmbedContents and
countTokens' ``generateContentRequest``, which must name the URL's model:
those are rewritten to the provider's model. Streams use ``alt=sse``
unless the client asked for Gemini's default JSON-array stream (the Gemini
surface says so in ``path_params["alt"]``); other surfaces' streams,
arriving here through a translator, always get SSE.
"""

from __future__ import annotations

from typing import Any

from proxy import hookimpl
from proxy.hygiene import URL_MODEL_ID, path_segment
from proxy.providers import Provider, ProviderRegistry, UpstreamRequest, json_body

#: wire API -> Gemini method (the stream variant is chosen by the stream flag)
METHODS = {"gemini.generate": "generateContent", "gemini.count_tokens": "countTokens",
           "gemini.embed": "embedContent", "gemini.batch_embed": "batchEmbedContents"}


def method_and_query(api: str, stream: bool, path_params: dict[str, str]) -> tuple[str, str, bool]:
    """(method, query string, JSON-array stream?) of one call."""
    method = METHODS[api]
    if api != "gemini.generate" or not stream:
        return method, "", False
    if path_params.get("alt", "sse") == "sse":
        return "streamGenerateContent", "?alt=sse", False
    return "streamGenerateContent", "", True


def with_model(api: str, body: dict[str, Any], resource: str) -> dict[str, Any]:
    """*body* with the model names inside it pointing at *resource* (``models/<id>``)."""
    if api == "gemini.batch_embed" and isinstance(body.get("requests"), list):
        return {**body, "requests": [{**r, "model": resource} if isinstance(r, dict) else r
                                     for r in body["requests"]]}
    if api == "gemini.count_tokens" and isinstance(body.get("generateContentRequest"), dict):
        return {**body, "generateContentRequest": {**body["generateContentRequest"], "model": resource}}
    return body


class GoogleProvider(Provider):
    """What the Gemini API and Vertex AI share: the method URLs and body rewriting."""

    model_id_pattern = URL_MODEL_ID          # the model is a path segment, before ":<method>"
    query_keys = frozenset({"alt"})

    def __post_init__(self) -> None:
        super().__post_init__()
        self.apis = frozenset(METHODS)

    def model_path(self, model: str) -> str:
        raise NotImplementedError

    def model_resource(self, model: str) -> str:
        return f"models/{model}"

    def build(self, api: str, model: str, body: dict[str, Any], stream: bool,
              client_headers: Any, path_params: dict[str, str]) -> UpstreamRequest:
        method, query, json_stream = method_and_query(api, stream, path_params)
        url = f"{self.base_url}{self.model_path(model)}:{method}{query}"
        req = UpstreamRequest("POST", url, {"Content-Type": "application/json"},
                              json_body(with_model(api, body, self.model_resource(model))), stream)
        req.json_stream = json_stream
        return req


class GeminiProvider(GoogleProvider):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "gemini"
        key = self.secret()
        self._auth = {"x-goog-api-key": key} if key else {}
        # Accept a base URL given with its version, as some SDK settings carry it.
        for suffix in ("/v1beta", "/v1"):
            self.base_url = self.base_url.removesuffix(suffix)

    def default_base_url(self) -> str:
        return "https://generativelanguage.googleapis.com"

    async def auth_headers(self) -> dict[str, str]:
        return self._auth

    def model_path(self, model: str) -> str:
        return f"/v1beta/models/{path_segment(model)}"


@hookimpl
def relaygate_register_providers(registry: ProviderRegistry) -> None:
    registry.add("gemini", lambda name, config: GeminiProvider(name=name, config=config))

