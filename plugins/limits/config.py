"""``limits:`` rate-limit rules and spend budgets (declared by plugins.limits.admission)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from proxy.config import ConfigModel

#: ``group``: each single sign-on group of the caller (plugins/sso) is a subject of its own
LimitScope = Literal["key", "owner", "team", "group", "endpoint", "endpoint_key"]


class LimitRule(ConfigModel):
    """A rate limit for each subject of *scope* that *match* (a glob) selects; see plugins/limits."""
    scope: LimitScope
    match: str = "*"            # key name, owner, team, group or endpoint (endpoint_key: the endpoint)
    key: str = "*"              # endpoint_key only: glob on the key name
    requests_per_minute: int | None = Field(None, ge=1)
    tokens_per_minute: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _some_limit(self) -> LimitRule:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError("give requests_per_minute, tokens_per_minute or both")
        return self


class BudgetRule(ConfigModel):
    """A spend limit in USD for each key, owner, team or group that *match* selects (UTC days and months)."""
    scope: Literal["key", "owner", "team", "group"]
    match: str = "*"
    usd_per_day: float | None = Field(None, gt=0)
    usd_per_month: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _some_budget(self) -> BudgetRule:
        if self.usd_per_day is None and self.usd_per_month is None:
            raise ValueError("give usd_per_day, usd_per_month or both")
        return self


class LimitsConfig(ConfigModel):
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
