"""Providers: where a served model's requests go, and how they are authenticated.

A provider *type* (``openai``, ``anthropic``, ...) is registered by a plugin
through ``relaygate_register_providers``; the config names instances of
those types. A :class:`Provider` turns (wire API, model, body) into an
:class:`UpstreamRequest`; the core sends it. Credentials live only here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import orjson

from proxy.config import ProviderConfig


@dataclass(slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    stream: bool
    #: the stream is a JSON array (Gemini without ``alt=sse``), not SSE
    json_stream: bool = False


class TokenSource(Protocol):
    """OAuth bearer tokens minted and refreshed for a provider (Google credentials on a self-deployed
    Vertex endpoint of any provider type)."""

    @property
    def current(self) -> str | None: ...

    async def token(self) -> str: ...

    async def close(self) -> None: ...


@dataclass
class Provider:
    """One configured provider. Subclasses set ``apis`` and implement :meth:`build`."""

    name: str
    config: ProviderConfig
    base_url: str = ""
    apis: frozenset[str] = frozenset()
    kind: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)
    #: the grammar of a model id this provider puts into its URL path (see proxy.hygiene.check_model_id);
    #: None: the model goes only in the body, any string is safe
    model_id_pattern: ClassVar[re.Pattern[str] | None] = None
    #: the query parameters this provider's URLs may carry (anything else is refused before sending)
    query_keys: ClassVar[frozenset[str]] = frozenset()
    #: when set, every request carries ``Authorization: Bearer <token>`` from it, in place of the
    #: type's own key header (set by a plugin, see ProviderRegistry.on_create)
    token_source: TokenSource | None = None

    def __post_init__(self) -> None:
        self.base_url = (self.config.base_url or self.default_base_url()).rstrip("/")
        self.extra_headers = dict(self.config.headers)

    def default_base_url(self) -> str:
        raise ValueError(f"provider {self.name!r} needs a base_url")

    def speaks(self, api: str) -> bool:
        return api in self.apis

    def secret(self) -> str | None:
        return self.config.api_key.get_secret_value() if self.config.api_key else None

    def credentials(self) -> list[str]:
        """Every credential this provider sends upstream (for scrubbing them out of relayed errors):
        the API key and the values of configured headers that carry a credential. Subclasses
        holding tokens they mint (Vertex AI) add those."""
        found = [s for s in (self.secret(),) if s]
        if self.token_source is not None and self.token_source.current:
            found.append(self.token_source.current)
        for name, value in self.extra_headers.items():
            if any(word in name.lower() for word in _CREDENTIAL_HEADER_WORDS):
                scheme, _, rest = value.partition(" ")
                found.append(rest.strip() if rest and scheme.lower() in ("bearer", "basic", "token") else value)
        return found

    async def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate us upstream. Async: some need a token refresh."""
        return {}

    def build(self, api: str, model: str, body: dict[str, Any], stream: bool,
              client_headers: Any, path_params: dict[str, str]) -> UpstreamRequest:
        raise NotImplementedError

    async def prepare(self, api: str, model: str, body: dict[str, Any], stream: bool,
                      client_headers: Any, path_params: dict[str, str]) -> UpstreamRequest:
        req = self.build(api, model, body, stream, client_headers, path_params)
        req.headers.update(self.extra_headers)
        if self.token_source is not None:
            req.headers["Authorization"] = f"Bearer {await self.token_source.token()}"
        else:
            req.headers.update(await self.auth_headers())
        return req

    async def close(self) -> None:
        """Release anything the provider holds (token refreshers)."""
        if self.token_source is not None:
            await self.token_source.close()


def json_body(body: dict[str, Any]) -> bytes:
    """*body* serialised for the provider, in a copy of exactly its size: orjson's own result keeps
    the buffer it wrote into (4 KB for a short chat request, about ten times the JSON's size for
    longer ones), and these bytes stay referenced while the answer's stream is relayed."""
    return bytes(memoryview(orjson.dumps(body)))


#: configured headers whose names contain one of these carry a credential
_CREDENTIAL_HEADER_WORDS = ("auth", "key", "token", "secret", "password", "cookie")

ProviderFactory = Callable[[str, ProviderConfig], Provider]


class ProviderRegistry:
    """Provider types by name, as registered by plugins."""

    def __init__(self) -> None:
        self._types: dict[str, ProviderFactory] = {}
        self._on_create: list[Callable[[Provider], None]] = []

    def on_create(self, attach: Callable[[Provider], None]) -> None:
        """Call *attach* on every provider created, of any type (e.g. to give it a token source)."""
        self._on_create.append(attach)

    def add(self, type_name: str, factory: ProviderFactory) -> None:
        if type_name in self._types:
            raise ValueError(f"provider type {type_name!r} registered twice")
        self._types[type_name] = factory

    def types(self) -> list[str]:
        return sorted(self._types)

    def create(self, name: str, config: ProviderConfig) -> Provider:
        factory = self._types.get(config.type)
        if factory is None:
            raise ValueError(f"providers.{name}.type: unknown provider type {config.type!r} "
                             f"(known: {', '.join(self.types())})")
        provider = factory(name, config)
        for attach in self._on_create:
            attach(provider)
        return provider
