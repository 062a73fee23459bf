"""OpenAI, Azure OpenAI and any OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from plugins.unified.reference_params import strip_reference_params
from proxy import hookimpl
from proxy.config import ProviderConfig
from proxy.hygiene import URL_MODEL_ID, path_segment
from proxy.providers import Provider, ProviderRegistry, UpstreamRequest, json_body

#: wire API -> path below the provider's base URL
PATHS = {
    "openai.chat": "/chat/completions",
    "openai.completions": "/completions",
    "openai.embeddings": "/embeddings",
    "openai.responses": "/responses",
    "openai.responses.compact": "/responses/compact",
    "openai.responses.input_tokens": "/responses/input_tokens",
}
_COMPATIBLE_APIS = frozenset({"openai.chat", "openai.completions", "openai.embeddings"})


class OpenAIProvider(Provider):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "openai"
        self.apis = frozenset(PATHS)
        key = self.secret()
        self._auth = {"Authorization": f"Bearer {key}"} if key else {}

    def default_base_url(self) -> str:
        return "https://api.openai.com/v1"

    async def auth_headers(self) -> dict[str, str]:
        return self._auth

    def url(self, api: str, model: str) -> str:
        return self.base_url + PATHS[api]

    def build(self, api: str, model: str, body: dict[str, Any], stream: bool,
              client_headers: Any, path_params: dict[str, str]) -> UpstreamRequest:
        body = strip_reference_params(api, body, self)
        return UpstreamRequest("POST", self.url(api, model), {"Content-Type": "application/json"},
                               json_body({**body, "model": model}), stream)


class OpenAICompatibleProvider(OpenAIProvider):
    """Self-hosted servers speak chat, completions and embeddings, not Responses."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "openai_compatible"
        self.apis = _COMPATIBLE_APIS

    def default_base_url(self) -> str:
        raise ValueError(f"providers.{self.name}.base_url is required for an OpenAI-compatible server")


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI: deployment-scoped URLs, ``api-key`` header, ``api-version`` query."""

    model_id_pattern = URL_MODEL_ID          # the model is the deployment name, in the path
    query_keys = frozenset({"api-version"})

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "azure_openai"
        self.apis = _COMPATIBLE_APIS | {"openai.responses", "openai.responses.compact"}
        key = self.secret()
        self._auth = {"api-key": key} if key else {}
        self._version = self.config.api_version or "2024-10-21"

    def default_base_url(self) -> str:
        raise ValueError(f"providers.{self.name}.base_url is required for Azure OpenAI")

    def url(self, api: str, model: str) -> str:
        if api in ("openai.responses", "openai.responses.compact"):
            return f"{self.base_url}/openai/v1{PATHS[api]}"
        return (f"{self.base_url}/openai/deployments/{path_segment(model)}{PATHS[api]}?"
                + urlencode({"api-version": self._version}))


def _factory(cls: type[OpenAIProvider]) -> Any:
    def make(name: str, config: ProviderConfig) -> Provider:
        return cls(name=name, config=config)
    return make


@hookimpl
def relaygate_register_providers(registry: ProviderRegistry) -> None:
    registry.add("openai", _factory(OpenAIProvider))
    registry.add("openai_compatible", _factory(OpenAICompatibleProvider))
    registry.add("azure_openai", _factory(AzureOpenAIProvider))
