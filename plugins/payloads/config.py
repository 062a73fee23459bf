"""``payload_logging:`` on an endpoint (declared by plugins.payloads.recorder)."""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from proxy.config import ConfigModel


class RedactConfig(ConfigModel):
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


class PayloadLoggingConfig(ConfigModel):
    """Request and response bodies to the ledger's store (opt-in per endpoint; headers never)."""

    enabled: bool = False
    sample_rate: float = Field(1.0, ge=0, le=1)
    max_bytes: int = Field(64 * 1024, ge=0, description="cap per body, after redaction")
    redact: RedactConfig = RedactConfig()
