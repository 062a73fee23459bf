"""``prompt_cache:`` on an endpoint: automatic Anthropic breakpoints and the prefix stabiliser (both off)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from proxy.config import ConfigModel


class PromptCacheConfig(ConfigModel):
    #: Anthropic-backed routes: when the request carries no ``cache_control`` at all, mark the tools,
    #: the system prompt, the previous turn and the last turn (at most 4, Anthropic's limit)
    auto_breakpoints: bool = False
    #: the breakpoints' lifetime: Anthropic's default 5 minutes, or 1 hour (writes cost more)
    ttl: Literal["5m", "1h"] = "5m"
    #: regular expressions of per-request noise in system prompts (a date line, a request hash): each
    #: match is moved out of the system prompt to the end of the last user turn, after the cached prefix
    stabilize: list[str] = Field(default_factory=list)

    @field_validator("stabilize")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"stabilize pattern {p!r} is not a regular expression: {exc}") from None
        return patterns
