"""Gemini on Vertex AI (``type: vertex``), authenticated with OAuth access tokens.

Config: ``project`` (else the service account's ``project_id``), ``location``
(default ``us-central1``; ``global`` uses the global host), and either a
``credentials_file`` (service-account JSON) or application default
credentials. ``token_uri`` overrides the token endpoint (private endpoints,
tests). Tokens come from :class:`~plugins.gemini.google_tokens.AccessTokens`.

Any other provider type given a ``credentials_file`` (a model self-deployed on a
Vertex endpoint, served by vLLM or TGI behind ``openai_compatible``) gets the same
refreshed tokens as ``Authorization: Bearer``, in place of an API key.
"""

from __future__ import annotations

import json

from plugins.gemini.provider import GoogleProvider
from plugins.gemini.google_tokens import AccessTokens, load_credentials
from proxy import hookimpl
from proxy.hygiene import path_segment
from proxy.providers import Provider, ProviderRegistry

DEFAULT_LOCATION = "us-central1"


class VertexProvider(GoogleProvider):
    def __post_init__(self) -> None:
        cfg = self.config
        self.location = cfg.location or DEFAULT_LOCATION
        file_project = self._file_project(cfg.credentials_file) if cfg.credentials_file else None
        project = cfg.project or file_project
        if not project:
            raise ValueError(f"providers.{self.name}.project is required for Vertex AI "
                             f"(or a credentials_file whose service account has a project_id)")
        self.project = project
        super().__post_init__()
        self.kind = "vertex"
        self.tokens = AccessTokens(lambda: load_credentials(cfg.credentials_file, cfg.token_uri)[0],
                                   name=self.name)

    def _file_project(self, path: str) -> str | None:
        # Read now so a wrong path fails at start-up, naming the field, not on the first request.
        try:
            with open(path) as f:
                info = json.load(f)
        except (OSError, ValueError) as exc:
            raise ValueError(f"providers.{self.name}.credentials_file: cannot read {path}: {exc}") from None
        return info.get("project_id") if isinstance(info, dict) else None

    def default_base_url(self) -> str:
        if self.location == "global":
            return "https://aiplatform.googleapis.com"
        return f"https://{self.location}-aiplatform.googleapis.com"

    def model_resource(self, model: str) -> str:
        return f"projects/{self.project}/locations/{self.location}/publishers/google/models/{model}"

    def model_path(self, model: str) -> str:
        seg = path_segment
        return (f"/v1/projects/{seg(self.project)}/locations/{seg(self.location)}"
                f"/publishers/google/models/{seg(model)}")

    async def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.tokens.token()}"}

    def credentials(self) -> list[str]:
        token = self.tokens.current
        return super().credentials() + ([token] if token else [])

    async def close(self) -> None:
        await self.tokens.close()


def attach_google_tokens(provider: Provider) -> None:
    """A self-deployed Vertex endpoint (vLLM, TGI, ... behind ``openai_compatible`` or any other type)
    with a ``credentials_file``: its requests carry refreshed Google access tokens instead of a key."""
    cfg = provider.config
    if isinstance(provider, VertexProvider) or not cfg.credentials_file:
        return
    try:                                          # a wrong path fails at start-up, naming the field
        with open(cfg.credentials_file) as f:
            json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"providers.{provider.name}.credentials_file: cannot read {cfg.credentials_file}: "
                         f"{exc}") from None
    provider.token_source = AccessTokens(lambda: load_credentials(cfg.credentials_file, cfg.token_uri)[0],
                                         name=provider.name)


@hookimpl
def relaygate_register_providers(registry: ProviderRegistry) -> None:
    registry.add("vertex", lambda name, config: VertexProvider(name=name, config=config))
    registry.on_create(attach_google_tokens)
