"""The gateway's configuration: one YAML file, validated with pydantic.

Text handling (``${VAR}`` references, the line of each wrong field): :mod:`proxy.config_file`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from proxy.config_file import ConfigError, expand_env, format_validation_error, read_text, read_yaml

Task = Literal["chat", "completions", "embeddings", "any"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(_Model):
    type: str = Field(description="provider type: openai, openai_compatible, azure_openai, anthropic, gemini, vertex")
    base_url: str | None = None
    api_key: SecretStr | None = None
    headers: dict[str, str] = {}
    # Vertex AI
    project: str | None = None
    location: str | None = None
    credentials_file: str | None = None
    token_uri: str | None = None
    # Azure OpenAI
    api_version: str | None = None
    options: dict[str, Any] = {}


class ServedModelConfig(_Model):
    name: str
    provider: str
    model: str = Field(description="the provider's model id; '*' takes the matched part of a wildcard endpoint")
    traffic_percentage: float = Field(100, ge=0, le=100)
    prices: dict[str, float] = {}    # USD per million tokens: input, output, cached_input, reasoning
    task: Task | None = Field(None, description="the task this model serves; must equal the endpoint's")


class TimeoutsConfig(_Model):
    connect_seconds: float = Field(10, gt=0)
    first_byte_seconds: float = Field(300, gt=0)
    idle_seconds: float = Field(120, gt=0)
    total_seconds: float = Field(3600, gt=0)
    #: after a client disconnect, read the provider's stream on this long for its usage; 0 cancels it at
    #: once (the provider stops generating: cheaper, but the ledger then has only what was streamed)
    disconnect_drain_seconds: float = Field(0, ge=0)


class RetryConfig(_Model):
    """When and how often one request is tried again (same model) or elsewhere (fallbacks)."""

    retry_on: list[str] = Field(["connect", "timeout", "429", "5xx"],
                                description="connect, timeout, protocol, 5xx, 4xx or a status code")
    max_attempts: int = Field(3, ge=1, description="provider attempts per request, fallbacks included")
    attempts_per_model: int = Field(2, ge=1, description="attempts on one served model before falling back")
    backoff_base_seconds: float = Field(0.25, ge=0)
    backoff_max_seconds: float = Field(5, ge=0)
    retry_after_max_seconds: float = Field(30, ge=0, description="a longer Retry-After skips to the fallback")

    @model_validator(mode="after")
    def _check_conditions(self) -> RetryConfig:
        for cond in self.retry_on:
            if cond not in ("connect", "timeout", "protocol", "5xx", "4xx") and not (
                    cond.isdigit() and 400 <= int(cond) <= 599):
                raise ValueError(f"retry_on: unknown condition {cond!r} "
                                 "(connect, timeout, protocol, 5xx, 4xx or a status 400-599)")
        return self


class CircuitBreakerConfig(_Model):
    enabled: bool = True
    consecutive_failures: int = Field(5, ge=1, description="failures in a row that open the circuit")
    cooldown_seconds: float = Field(30, gt=0, description="how long an open circuit stays open")
    half_open_probes: int = Field(1, ge=1, description="concurrent trial requests while half-open")


class RedactConfig(_Model):
    json_paths: list[str] = []      # e.g. $.messages[*].content, $.user: the value becomes [REDACTED]
    patterns: list[str] = []        # regexes over the stored text; each match becomes [REDACTED]

    @model_validator(mode="after")
    def _compile(self) -> RedactConfig:
        for pattern in self.patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"patterns: {pattern!r} is not a valid regex: {exc}") from None
        return self


class PayloadLoggingConfig(_Model):
    """Request and response bodies to the ledger's store (opt-in per endpoint; headers never)."""

    enabled: bool = False
    sample_rate: float = Field(1.0, ge=0, le=1)
    max_bytes: int = Field(64 * 1024, ge=0, description="cap per body, after redaction")
    redact: RedactConfig = RedactConfig()


PiiKind = Literal["email", "phone", "card", "national_id", "us_ssn", "uk_nino", "es_dni", "iban"]


class GuardrailRule(_Model):
    """One guardrail (plugins/guardrails): PII detectors or a keyword list, on input and/or output."""

    name: str
    type: Literal["pii", "keywords"]
    action: Literal["block", "mask"] = "block"
    apply_to: list[Literal["input", "output"]] = ["input", "output"]
    detect: list[PiiKind] = ["email", "phone", "card", "national_id"]   # type pii
    keywords: list[str] = []                                            # type keywords (whole words)
    mask: str | None = None         # replacement text; default [EMAIL], [CARD], ... or [REDACTED]


class EndpointConfig(_Model):
    name: str = ""
    task: Task = "chat"
    served_models: list[ServedModelConfig] = Field(min_length=1)
    fallbacks: list[str] = []
    timeouts: TimeoutsConfig = TimeoutsConfig()
    retry: RetryConfig = RetryConfig()
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    unsupported_params: Literal["reject", "drop"] = "reject"
    max_n: int = Field(1 << 30, ge=1)
    payload_logging: PayloadLoggingConfig = PayloadLoggingConfig()
    guardrails: list[GuardrailRule] = []          # added to Settings.guardrails (same name: this one wins)

    @model_validator(mode="after")
    def _check_models(self) -> EndpointConfig:
        names = [m.name for m in self.served_models]
        if len(set(names)) != len(names):
            raise ValueError(f"served model names must be unique, got {names}")
        total = sum(m.traffic_percentage for m in self.served_models)
        if abs(total - 100) > 1e-6:
            raise ValueError(f"traffic_percentage of the served models must add up to 100, got {total:g}")
        for fb in self.fallbacks:
            if fb not in names:
                raise ValueError(f"fallback {fb!r} is not a served model of this endpoint ({', '.join(names)})")
        # One endpoint, one task: a client must get the same kind of answer whichever model serves it.
        tasks = {m.task for m in self.served_models if m.task is not None}
        if len(tasks) > 1 or (tasks and self.task != "any" and tasks != {self.task}):
            raise ValueError(f"all served models must serve the endpoint's task {self.task!r}, got "
                             + ", ".join(f"{m.name}: {m.task or self.task}" for m in self.served_models))
        return self

    @property
    def is_wildcard(self) -> bool:
        return self.name.endswith("*")


class KeyConfig(_Model):
    name: str
    key: SecretStr | None = None
    key_sha256: str | None = None
    owner: str = ""
    team: str = ""
    endpoints: list[str] | None = None
    tags: list[str] = []
    disabled: bool = False          # kill switch: refused with a permanent error (plugins/agents)

    @model_validator(mode="after")
    def _one_secret(self) -> KeyConfig:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of key or key_sha256")
        return self


class LedgerConfig(_Model):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "relaygate-ledger.db"
    postgres_dsn: SecretStr | None = None
    flush_interval_seconds: float = Field(0.5, gt=0)
    batch_size: int = Field(500, ge=1)
    retention_days: int | None = Field(None, ge=1)
    postgres_schema: str = Field("public", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    spool_dir: str | None = None          # batches the store could not take wait here; None: "<path>.spool"
    spool_retry_seconds: float = Field(5, gt=0, description="pause after a failed write before trying again")
    max_pending_rows: int = Field(100_000, ge=1, description="more rows in memory spill to the spool")
    write_timeout_seconds: float = Field(10, gt=0)

    @model_validator(mode="after")
    def _dsn(self) -> LedgerConfig:
        if self.backend == "postgres" and self.postgres_dsn is None:
            raise ValueError("backend postgres needs postgres_dsn (e.g. ${RELAYGATE_LEDGER_DSN})")
        return self


class KeyStoreConfig(_Model):
    """Gateway keys created with the admin API or ``relaygate keys``; unset fields follow the ledger."""

    backend: Literal["sqlite", "postgres"] | None = None     # None: the ledger's backend
    path: str | None = None               # SQLite file; None: next to the ledger (<ledger>.keys.db)
    postgres_dsn: SecretStr | None = None  # None: the ledger's DSN
    postgres_schema: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")  # None: the ledger's
    refresh_seconds: float = Field(2.0, gt=0)   # how soon a change on another replica takes effect


class ResponsesStoreConfig(_Model):
    """Conversations the gateway keeps so ``previous_response_id`` works on translated endpoints."""

    path: str | None = Field(None, description="SQLite file; default: relaygate-responses.db beside the ledger")
    retention_days: float = Field(30, gt=0)
    max_items: int = Field(2000, ge=1, description="most input+output items kept per response")


class StorageConfig(_Model):
    ledger: LedgerConfig = LedgerConfig()
    keys: KeyStoreConfig = KeyStoreConfig()
    responses: ResponsesStoreConfig = ResponsesStoreConfig()


LimitScope = Literal["key", "owner", "team", "endpoint", "endpoint_key"]


class LimitRule(_Model):
    """A rate limit for each subject of *scope* that *match* (a glob) selects; see plugins/limits."""
    scope: LimitScope
    match: str = "*"            # key name, owner, team or endpoint (endpoint_key: the endpoint)
    key: str = "*"              # endpoint_key only: glob on the key name
    requests_per_minute: int | None = Field(None, ge=1)
    tokens_per_minute: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _some_limit(self) -> LimitRule:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError("give requests_per_minute, tokens_per_minute or both")
        return self


class BudgetRule(_Model):
    """A spend limit in USD for each key, owner or team that *match* selects (UTC days and months)."""
    scope: Literal["key", "owner", "team"]
    match: str = "*"
    usd_per_day: float | None = Field(None, gt=0)
    usd_per_month: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _some_budget(self) -> BudgetRule:
        if self.usd_per_day is None and self.usd_per_month is None:
            raise ValueError("give usd_per_day, usd_per_month or both")
        return self


class LimitsConfig(_Model):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: SecretStr | None = None
    redis_prefix: str = "relaygate:"
    on_backend_error: Literal["deny", "allow"] = "deny"    # when Redis is unreachable: 503, or let it pass
    rules: list[LimitRule] = []
    budgets: list[BudgetRule] = []

    @model_validator(mode="after")
    def _redis_url(self) -> LimitsConfig:
        if self.backend == "redis" and self.redis_url is None:
            raise ValueError("backend redis needs redis_url (e.g. ${RELAYGATE_REDIS_URL})")
        return self


class AgentLimitRule(_Model):
    """A token / spend cap for coding agents (plugins/agents): per session (its whole life) or per
    developer (owner, per UTC day). *match* globs the owner, *agent* the agent kind (claude_code, ...)."""
    scope: Literal["session", "owner"]
    match: str = "*"
    agent: str = "*"
    max_tokens: int | None = Field(None, ge=1)
    max_usd: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _some_cap(self) -> AgentLimitRule:
        if self.max_tokens is None and self.max_usd is None:
            raise ValueError("give max_tokens, max_usd or both")
        return self


class AgentsConfig(_Model):
    """Coding-agent governance (plugins/agents)."""
    limits: list[AgentLimitRule] = []
    #: HTTP status of permanent refusals per agent kind (agents stop on it instead of retrying)
    refusal_status: dict[str, int] = {}
    #: a 429 whose Retry-After is longer than this is a permanent refusal for agents
    retry_after_threshold_seconds: float = Field(120, ge=0)
    session_idle_seconds: float = Field(86400, gt=0)     # a session's counters are forgotten after this


class ServerConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    listen_backlog: int = Field(4096, ge=1)
    drain_timeout_seconds: float = Field(30, ge=0)
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    access_log: bool = True          # one structured JSON line per request
    #: seconds /readyz answers 503 before the listener closes on SIGTERM (let load balancers notice)
    drain_delay_seconds: float = Field(0, ge=0)
    max_line_size: int = Field(8190, ge=256, description="request line / header line limit (bytes)")
    max_field_size: int = Field(8190, ge=256, description="one header's size limit (bytes)")
    max_response_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="non-streaming provider body limit")
    trusted_proxies: list[str] = Field([], description="CIDRs whose X-Forwarded-For is believed")
    retry_budget_percent: float = Field(20, ge=0, le=100, description="retries as % of active requests")
    retry_budget_min_concurrency: int = Field(3, ge=0, description="retries always allowed in flight")
    reload_poll_seconds: float = Field(2, ge=0, description="config file mtime poll; 0 disables")


class AdminConfig(_Model):
    """The admin API (/admin/v1); disabled (404) without a token. Env fallback: RELAYGATE_ADMIN_TOKEN."""

    token: SecretStr | None = None


class Settings(_Model):
    server: ServerConfig = ServerConfig()
    providers: dict[str, ProviderConfig] = {}
    endpoints: dict[str, EndpointConfig] = {}
    keys: list[KeyConfig] = []
    storage: StorageConfig = StorageConfig()
    limits: LimitsConfig = LimitsConfig()
    admin: AdminConfig = AdminConfig()
    guardrails: list[GuardrailRule] = []          # for every endpoint (plugins/guardrails)
    #: model names clients ask for -> endpoint; keys may be fnmatch patterns ("claude-*"), values an
    #: endpoint name or {surface: endpoint} ("*" for any surface). Exact endpoint names win.
    aliases: dict[str, str | dict[str, str]] = {}
    agents: AgentsConfig = AgentsConfig()
    plugins: list[str] = []
    source: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _cross_check(self) -> Settings:
        for ep_name, ep in self.endpoints.items():
            for m in ep.served_models:
                if m.provider not in self.providers:
                    known = ", ".join(sorted(self.providers)) or "none"
                    raise ValueError(f"endpoints.{ep_name}: served model {m.name!r} names provider "
                                     f"{m.provider!r}, which is not configured (configured: {known})")
        for alias, target in self.aliases.items():
            for surface, ep_name in (target.items() if isinstance(target, dict) else [("*", target)]):
                if not any(ep_name == n or (n.endswith("*") and ep_name.startswith(n[:-1]))
                           for n in self.endpoints):
                    raise ValueError(f"aliases.{alias}: {surface + ': ' if isinstance(target, dict) else ''}"
                                     f"endpoint {ep_name!r} is not configured")
        return self

    def model_post_init(self, _ctx: Any) -> None:
        # Endpoint objects know their own name, for labels and error messages.
        for name, ep in self.endpoints.items():
            if ep.name != name:
                object.__setattr__(ep, "name", name)


def parse_settings(text: str, source: str = "<string>", env: dict[str, str] | None = None) -> Settings:
    data, root = read_yaml(text, source)
    data = expand_env(data, dict(os.environ) if env is None else env)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, root)) from None
    return settings.model_copy(update={"source": source})


def load_settings(path: str | Path, env: dict[str, str] | None = None) -> Settings:
    return parse_settings(read_text(path), str(path), env)
