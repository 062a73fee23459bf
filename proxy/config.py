"""The gateway's configuration: the core schema, and loading a YAML file with it.

The core schema is providers, endpoints, keys, server, aliases and the plugin
list. Plugins add their own sections and endpoint fields through hooks (see
:mod:`proxy.sections`); a file is validated with the core schema plus what the
registered plugins declared, so a plugin's section is as strictly checked as
the core's. Text handling (``${VAR}``, lines of errors): :mod:`proxy.config_file`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import pluggy
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from proxy.config_file import ConfigError as ConfigError  # re-exported: callers catch proxy.config.ConfigError
from proxy.config_file import expand_env, format_validation_error, read_text, read_yaml
from proxy.plugins import make_plugin_manager, plugins_of
from proxy.sections import DeclarationError, Declarers, collect, declarers, extend, paths

Task = Literal["chat", "completions", "embeddings", "any"]
M = TypeVar("M", bound=BaseModel)


class ConfigModel(BaseModel):
    """Base of every config model, the plugins' too: unknown fields are errors; values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(ConfigModel):
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


class ServedModelConfig(ConfigModel):
    name: str
    provider: str
    model: str = Field(description="the provider's model id; '*' takes the matched part of a wildcard endpoint")
    traffic_percentage: float = Field(100, ge=0, le=100)
    prices: dict[str, float] = {}    # USD per million tokens: input, output, cached_input, reasoning
    task: Task | None = Field(None, description="the task this model serves; must equal the endpoint's")


class TimeoutsConfig(ConfigModel):
    connect_seconds: float = Field(10, gt=0)
    first_byte_seconds: float = Field(300, gt=0)
    idle_seconds: float = Field(120, gt=0)
    total_seconds: float = Field(3600, gt=0)
    #: after a client disconnect, read the provider's stream on this long for its usage; 0 cancels it at
    #: once (the provider stops generating: cheaper, but the ledger then has only what was streamed)
    disconnect_drain_seconds: float = Field(0, ge=0)


class RetryConfig(ConfigModel):
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


class CircuitBreakerConfig(ConfigModel):
    enabled: bool = True
    consecutive_failures: int = Field(5, ge=1, description="failures in a row that open the circuit")
    cooldown_seconds: float = Field(30, gt=0, description="how long an open circuit stays open")
    half_open_probes: int = Field(1, ge=1, description="concurrent trial requests while half-open")
    panic_one_in: int = Field(10, ge=0, description="when every candidate's circuit is open, one request in "
                              "this many still goes to the provider (Envoy's panic mode); 0 refuses all")


class CapsConfig(ConfigModel):
    """What one request may ask of the provider, checked before it is called (400 naming the field).

    The defaults stay above what today's providers allow for output tokens, so they only stop a
    request that multiplies cost (many choices, huge batches), never one a provider would serve.
    """

    max_n: int = Field(8, ge=1, description="choices per request: n, best_of, candidateCount")
    max_output_tokens: int = Field(131072, ge=1, description="max_tokens, max_completion_tokens, "
                                   "max_output_tokens, maxOutputTokens")
    max_embedding_inputs: int = Field(2048, ge=1, description="inputs of one embeddings request")


class EndpointConfig(ConfigModel):
    """The core's endpoint fields; plugins add theirs (payload_logging, guardrails, ...)."""

    name: str = ""
    task: Task = "chat"
    served_models: list[ServedModelConfig] = Field(min_length=1)
    fallbacks: list[str] = []
    timeouts: TimeoutsConfig = TimeoutsConfig()
    retry: RetryConfig = RetryConfig()
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    #: a parameter the provider cannot express: reject (400), drop (sent without it, x-relaygate-dropped),
    #: agents (drop hosted tools and sampling knobs for coding agents, reject the rest; proxy.exchange)
    unsupported_params: Literal["reject", "drop", "agents"] = "reject"
    caps: CapsConfig = CapsConfig()

    @model_validator(mode="before")
    @classmethod
    def _legacy_max_n(cls, data: Any) -> Any:
        # ``max_n`` predates ``caps``: still accepted, as caps.max_n.
        if isinstance(data, dict) and "max_n" in data:
            data = dict(data)
            data["caps"] = {"max_n": data.pop("max_n"), **(data.get("caps") or {})}
        return data

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


class KeyConfig(ConfigModel):
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


class ServerConfig(ConfigModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    listen_backlog: int = Field(4096, ge=1)
    drain_timeout_seconds: float = Field(30, ge=0)
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="a larger Content-Length gets 413 unread")
    header_timeout_seconds: float = Field(10, gt=0, description="a request's headers must arrive within this "
                                          "(from connecting, or from its first byte on a kept-alive connection)")
    body_timeout_seconds: float = Field(120, gt=0, description="a request's whole body must arrive within this")
    access_log: bool = True          # one structured JSON line per request
    #: seconds /readyz answers 503 while the listener still accepts, after SIGTERM (load balancers and
    #: Kubernetes endpoints notice); ``drain_delay_seconds`` is its former name
    shutdown_delay_seconds: float = Field(5, ge=0, validation_alias=AliasChoices(
        "shutdown_delay_seconds", "drain_delay_seconds"))
    max_line_size: int = Field(8190, ge=256, description="request line / header line limit (bytes)")
    max_field_size: int = Field(8190, ge=256, description="one header's size limit (bytes)")
    max_response_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="non-streaming provider body limit")
    max_stream_event_bytes: int = Field(8 * 1024 * 1024, ge=1024,
                                        description="one stream event's limit; a bigger one ends the stream")
    trusted_proxies: list[str] = Field([], description="CIDRs whose X-Forwarded-For is believed")
    retry_budget_percent: float = Field(20, ge=0, le=100, description="retries as % of active requests")
    retry_budget_min_concurrency: int = Field(3, ge=0, description="retries always allowed in flight")
    reload_poll_seconds: float = Field(2, ge=0, description="config file mtime poll; 0 disables")


class Settings(ConfigModel):
    """The core sections. A file is validated with :func:`settings_model`, this class
    extended with the sections the registered plugins declare."""

    server: ServerConfig = ServerConfig()
    providers: dict[str, ProviderConfig] = {}
    endpoints: dict[str, EndpointConfig] = {}
    keys: list[KeyConfig] = []
    #: model names clients ask for -> endpoint; keys may be fnmatch patterns ("claude-*"), values an
    #: endpoint name or {surface: endpoint} ("*" for any surface). Exact endpoint names win.
    aliases: dict[str, str | dict[str, str]] = {}
    plugins: list[str] = []
    source: str = Field("", exclude=True)
    #: where each plugin-declared model sits, e.g. LedgerConfig -> ("storage", "ledger"); None: twice
    section_paths: ClassVar[dict[type[BaseModel], tuple[str, ...] | None]] = {}

    def section(self, model: type[M]) -> M:
        """A plugin's section, typed: ``settings.section(LimitsConfig)`` is ``settings.limits``."""
        if model not in self.section_paths:
            raise LookupError(f"no registered plugin declares a config section of type {model.__name__}")
        path = self.section_paths[model]
        if path is None:
            raise LookupError(f"{model.__name__} is the type of more than one section: read it by name")
        value: Any = self
        for name in path:
            value = getattr(value, name)
        return value  # type: ignore[no-any-return]

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Settings:
        """On the core model itself, validate as the gateway does: with the plugins' sections."""
        if cls is Settings:
            cls = settings_model(make_plugin_manager(plugins_of(obj)))
        return super(Settings, cls).model_validate(obj, **kwargs)  # noqa: UP008 - cls was rebound above

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


def settings_model(pm: pluggy.PluginManager) -> type[Settings]:
    """Settings extended with the sections and endpoint fields *pm*'s plugins declare."""
    return _settings_model(declarers(pm.hook.relaygate_config_sections),
                           declarers(pm.hook.relaygate_endpoint_fields))


@functools.cache        # one class per plugin set: a reload or a second parse reuses it
def _settings_model(sections: Declarers, endpoint_fields: Declarers) -> type[Settings]:
    fields = collect(endpoint_fields, EndpointConfig.model_fields, "endpoint field", dotted=False)
    endpoint = extend(EndpointConfig, fields, ConfigModel)
    specs = collect(sections, Settings.model_fields, "config section", dotted=True)
    model = extend(Settings, specs, ConfigModel, endpoints=(dict[str, endpoint], {}))  # type: ignore[valid-type]
    model.section_paths = paths(specs)
    return model


def validate_settings(data: Any, pm: pluggy.PluginManager | None = None) -> Settings:
    """*data* (the file's mapping) validated with the core schema plus *pm*'s plugins
    (default: built-in, installed and those *data* lists). Raises pydantic's ValidationError."""
    return settings_model(pm or make_plugin_manager(plugins_of(data))).model_validate(data)


def parse_settings(text: str, source: str = "<string>", env: dict[str, str] | None = None,
                   pm: pluggy.PluginManager | None = None) -> Settings:
    data, root = read_yaml(text, source)
    data = expand_env(data, dict(os.environ) if env is None else env)
    try:
        settings = validate_settings(data, pm)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, root)) from None
    except (ImportError, DeclarationError) as exc:        # a listed plugin is missing, or two clash
        raise ConfigError(f"invalid configuration in {source}: {exc}") from None
    return settings.model_copy(update={"source": source})


def load_settings(path: str | Path, env: dict[str, str] | None = None,
                  pm: pluggy.PluginManager | None = None) -> Settings:
    """The file at *path*; with *pm*, validated for those plugins (its ``plugins:`` list unused)."""
    return parse_settings(read_text(path), str(path), env, pm)
