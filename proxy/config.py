"""The gateway's configuration: one YAML file, validated with pydantic.

``${VAR}`` and ``${VAR:-default}`` anywhere in the file are replaced from the
environment, so credentials stay out of the file. A bad file fails with
:class:`ConfigError`, whose message names each wrong field and its line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

Task = Literal["chat", "completions", "embeddings", "any"]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The configuration is invalid; the message says where and why."""


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


class TimeoutsConfig(_Model):
    connect_seconds: float = Field(10, gt=0)
    first_byte_seconds: float = Field(300, gt=0)
    idle_seconds: float = Field(120, gt=0)
    total_seconds: float = Field(3600, gt=0)


class EndpointConfig(_Model):
    name: str = ""
    task: Task = "chat"
    served_models: list[ServedModelConfig] = Field(min_length=1)
    fallbacks: list[str] = []
    timeouts: TimeoutsConfig = TimeoutsConfig()
    unsupported_params: Literal["reject", "drop"] = "reject"
    max_n: int = Field(1 << 30, ge=1)

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


class StorageConfig(_Model):
    ledger: LedgerConfig = LedgerConfig()


class ServerConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    drain_timeout_seconds: float = Field(30, ge=0)
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    access_log: bool = False


class Settings(_Model):
    server: ServerConfig = ServerConfig()
    providers: dict[str, ProviderConfig] = {}
    endpoints: dict[str, EndpointConfig] = {}
    keys: list[KeyConfig] = []
    storage: StorageConfig = StorageConfig()
    limits: dict[str, Any] = {}
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
        return self

    def model_post_init(self, _ctx: Any) -> None:
        # Endpoint objects know their own name, for labels and error messages.
        for name, ep in self.endpoints.items():
            if ep.name != name:
                object.__setattr__(ep, "name", name)


def expand_env(value: Any, env: dict[str, str]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of *value*."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"environment variable {name} is not set (referenced as ${{{name}}})")
        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    return value


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at *loc*, or of its nearest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        else:
            child = None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def format_validation_error(err: ValidationError, source: str, root: yaml.Node | None) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        where = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(root, loc)
        at = f" (line {line})" if line else ""
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}{at}: {msg}")
    return "\n".join(lines)


def parse_settings(text: str, source: str = "<string>", env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML in {source}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"invalid configuration in {source}: the top level must be a mapping")
    data = expand_env(data, env)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, root)) from None
    return settings.model_copy(update={"source": source})


def load_settings(path: str | Path, env: dict[str, str] | None = None) -> Settings:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {p}: {exc.strerror}") from None
    return parse_settings(text, str(p), env)
