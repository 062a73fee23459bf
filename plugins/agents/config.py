"""``agents:`` coding-agent governance (declared by plugins.agents.governance)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from proxy.config import ConfigModel


class AgentLimitRule(ConfigModel):
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


class AgentsConfig(ConfigModel):
    """Coding-agent governance (plugins/agents)."""
    limits: list[AgentLimitRule] = []
    #: HTTP status of permanent refusals per agent kind (agents stop on it instead of retrying)
    refusal_status: dict[str, int] = {}
    #: a 429 whose Retry-After is longer than this is a permanent refusal for agents
    retry_after_threshold_seconds: float = Field(120, ge=0)
    session_idle_seconds: float = Field(86400, gt=0)     # a session's counters are forgotten after this
