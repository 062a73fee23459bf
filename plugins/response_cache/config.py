"""``cache:`` on an endpoint (the response cache, off unless given) and ``response_cache:`` (its stores)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from proxy.config import ConfigModel


class EndpointCacheConfig(ConfigModel):
    """An endpoint's response cache: ``cache: {mode: exact, ttl_seconds: 300, backend: memory}``."""

    mode: Literal["exact", "off"] = "exact"
    ttl_seconds: int = Field(300, ge=1, le=30 * 86400)
    backend: Literal["memory", "redis"] = "memory"
    #: whose answers a request may get: the same key's (default), owner's, team's, or anyone's
    share_by: Literal["key", "owner", "team", "everyone"] = "key"
    #: cache only requests that ask for one answer (temperature 0, n 1, no tool turns) unless the client
    #: sends ``x-relaygate-cache: use``; false: every request (still never with n > 1)
    deterministic_only: bool = True


class ResponseCacheConfig(ConfigModel):
    """The stores every endpoint's cache shares."""

    #: the memory store's bound: least recently used answers go first (per process)
    memory_max_bytes: int = Field(64 << 20, ge=1024)
    #: an answer larger than this is not stored
    max_entry_bytes: int = Field(4 << 20, ge=1024)
    redis_url: SecretStr | None = None
    redis_prefix: str = "relaygate:rc:"
    #: a lookup or store slower than this counts as a failure: the provider answers instead
    timeout_seconds: float = Field(0.25, gt=0)
    #: after a failure, Redis is not asked again for this long (requests go to the provider)
    retry_after_seconds: float = Field(5.0, ge=0)

    @model_validator(mode="after")
    def _prefix(self) -> ResponseCacheConfig:
        if not self.redis_prefix:
            raise ValueError("redis_prefix must not be empty")
        return self
