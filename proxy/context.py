"""The objects a request carries through the hook stages."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from proxy.stash import Stash, StashKey
from proxy.usage import Usage

if TYPE_CHECKING:
    from aiohttp import web

    from proxy.apis import Api
    from proxy.channels import ReplyChannel
    from proxy.config import EndpointConfig, ServedModelConfig
    from proxy.exchange import Exchange
    from proxy.gateway import Gateway
    from proxy.providers import Provider

# Attribution of a request, in ctx.stash: core vocabulary, so the ledger, metrics and tracing
# read it without depending on the plugin that fills it in (plugins/agents).
#: the kind of client: a coding agent ("claude_code", "codex", ...) or "other"
AGENT_KIND: StashKey[str] = StashKey("agent_kind")
#: the agent's session (conversation) id, when the request carries one
AGENT_SESSION_ID: StashKey[str] = StashKey("agent_session_id")
#: the client is a coding agent (Claude Code, Codex, Gemini CLI, opencode): the endpoint policy
#: ``unsupported_params: agents`` drops hosted tools and sampling knobs for it instead of refusing
CODING_AGENT: StashKey[bool] = StashKey("coding_agent")
#: the request's W3C trace id (32 hex digits) when tracing is on: in the ledger row and the access log
TRACE_ID: StashKey[str] = StashKey("trace_id")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a gateway key and what it may do. Never holds the secret."""

    key_id: str                       # a stable, non-secret id (name or hash prefix)
    owner: str = ""                   # user, team or agent the usage is attributed to
    team: str = ""
    endpoints: frozenset[str] | None = None   # None: every endpoint
    tags: tuple[str, ...] = ()
    #: the name people gave the key (config keys: the same as key_id; stored keys: their ``name``),
    #: so rules and budgets can name a key either way
    key_name: str = ""
    # A signed-in person (single sign-on, plugins/sso) rather than a key: who vouched for them and
    # what their identity provider says they belong to. Empty for gateway keys. Limits (``scope:
    # group``), endpoint allowlists and any later policy plugin read these, never the raw token.
    issuer: str = ""                  # the issuer's configured name; "" for a gateway key
    subject: str = ""                 # the token's ``sub`` at that issuer
    teams: tuple[str, ...] = ()       # every team claimed (``team`` is the first)
    groups: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    expires_at: float | None = None   # epoch seconds: a token's ``exp``

    @property
    def signed_in(self) -> bool:
        """A person's single sign-on token, not a gateway key."""
        return bool(self.issuer)

    @property
    def names(self) -> tuple[str, ...]:
        """The key's id, then its name when that differs: what a rule's ``match`` may use."""
        return (self.key_id,) if not self.key_name or self.key_name == self.key_id else (self.key_id, self.key_name)

    def may_call(self, endpoint: str) -> bool:
        return self.endpoints is None or endpoint in self.endpoints


@dataclass(frozen=True, slots=True)
class Route:
    """Where one attempt goes: the served model, its provider and wire formats."""

    endpoint: EndpointConfig
    served: ServedModelConfig
    provider: Provider
    upstream_model: str
    client_api: str                   # e.g. "openai.chat"
    provider_api: str                 # the same for passthrough
    exchange: Exchange                # the identity exchange for passthrough, never None

    @property
    def passthrough(self) -> bool:
        return self.exchange.passthrough


@dataclass(slots=True)
class RequestContext:
    """Everything known about one request; hooks read and fill it in."""

    request: web.Request
    gateway: Gateway
    api: Api
    surface: str                      # metric label: "unified", "openai", "anthropic", "gemini", ...
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    started_wall: float = field(default_factory=time.time)
    body: dict[str, Any] | None = None
    raw_body: bytes = b""
    endpoint_name: str = ""
    stream: bool = False
    principal: Principal | None = None
    route: Route | None = None
    endpoint: EndpointConfig | None = None
    status: int = 0
    error_reason: str = ""
    path_params: dict[str, str] = field(default_factory=dict)
    #: per-request state of the core and the plugins, each under the key its owner defines
    stash: Stash = field(default_factory=Stash)
    #: short name -> value tags plugins attach (a tenant, a cost centre); written to the ledger row
    labels: dict[str, str] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)
    #: provider attempts so far (proxy.upstream.Attempt), for retries, breakers and metrics
    attempts: list[Any] = field(default_factory=list)
    #: the first byte went to the client: no retry, no fallback, no error status any more
    committed: bool = False
    #: the body comes from, and a stream goes to, this channel instead of ``request`` (a WebSocket)
    channel: ReplyChannel | None = None


@dataclass(slots=True)
class UsageRecord:
    """One provider attempt, as the ledger and the metrics see it."""

    request_id: str
    attempt: int
    started_wall: float
    endpoint: str
    served_model: str
    provider: str
    provider_model: str
    surface: str
    status: int
    stream: bool
    usage: Usage
    latency_s: float
    ttft_s: float | None
    upstream_s: float
    error: str = ""
    disconnected: bool = False
    key_id: str = ""
    owner: str = ""
    team: str = ""
    #: USD; None: no price is known for the model (never a made-up 0); set by plugins/metering/pricing
    cost_usd: float | None = None
    agent: str = ""                   # AGENT_KIND of the request
    session_id: str = ""              # AGENT_SESSION_ID of the request
    trace_id: str = ""                # TRACE_ID of the request
    #: how the attempt ended: complete, error, client_cancelled (streams: see proxy.upstream)
    outcome: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    #: answered from the gateway's response cache: no provider was called, ``cost_usd`` is 0 and
    #: ``saved_cost_usd`` what the provider call would have cost
    cache_hit: bool = False
    saved_cost_usd: float | None = None
    #: where ``cost_usd``'s prices came from ("config", "catalogue", "unknown") and which version
    #: (the catalogue's package version and price date), so a bill can be re-derived
    price_source: str = ""
    price_version: str = ""
