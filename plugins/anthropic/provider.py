"""Anthropic's Messages API (``type: anthropic``).

The client's ``anthropic-version`` and ``anthropic-beta`` headers are
forwarded as they came: clients send different versions (2023-06-01 from
Claude Code and curl, 2026-10-21 from the Python SDK) and the betas decide
which fields a body may carry, so pinning either would break someone. A client
that sends no version (every client of another surface, whose body the gateway
translated) gets the provider's ``api_version`` (``2023-06-01`` unless set), the
version the translation fitted the body to (plugins/anthropic/versions.py). A provider's ``options.anthropic_beta``
may strip betas an Anthropic-compatible host does not know (plugins/agents/betas.py).
"""

from __future__ import annotations

from typing import Any

from plugins.anthropic.betas import outgoing_betas, policy_of
from plugins.anthropic.versions import DEFAULT_VERSION
from proxy import hookimpl
from proxy.providers import Provider, ProviderRegistry, UpstreamRequest, json_body

PATHS = {"anthropic.messages": "/v1/messages", "anthropic.count_tokens": "/v1/messages/count_tokens"}


class AnthropicProvider(Provider):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "anthropic"
        self.apis = frozenset(PATHS)
        key = self.secret()
        self._auth = {"x-api-key": key} if key else {}
        # A base URL given as ".../v1" (as for other SDKs) still works.
        self.base_url = self.base_url.removesuffix("/v1")
        # Betas are forwarded unless providers.<name>.options.anthropic_beta strips some.
        self.beta_policy = policy_of(self.config.options, self.name)
        self.version = self.config.api_version or DEFAULT_VERSION

    def default_base_url(self) -> str:
        return "https://api.anthropic.com"

    async def auth_headers(self) -> dict[str, str]:
        return self._auth

    def build(self, api: str, model: str, body: dict[str, Any], stream: bool,
              client_headers: Any, path_params: dict[str, str]) -> UpstreamRequest:
        headers = {"Content-Type": "application/json",
                   "anthropic-version": client_headers.get("anthropic-version") or self.version}
        # A header sent several times is one comma-separated list.
        values = client_headers.getall("anthropic-beta", []) if hasattr(client_headers, "getall") \
            else client_headers.get("anthropic-beta")
        betas = outgoing_betas(self.beta_policy, values)
        if betas:
            headers["anthropic-beta"] = betas
        return UpstreamRequest("POST", self.base_url + PATHS[api], headers,
                               json_body({**body, "model": model}), stream)


@hookimpl
def relaygate_register_providers(registry: ProviderRegistry) -> None:
    registry.add("anthropic", lambda name, config: AnthropicProvider(name=name, config=config))
