"""``guardrails:`` rules, at the top level (every endpoint) and per endpoint (declared by
plugins.guardrails.filters; an endpoint rule replaces a top-level one of the same name)."""

from __future__ import annotations

from typing import Literal

from proxy.config import ConfigModel

PiiKind = Literal["email", "phone", "card", "national_id", "us_ssn", "uk_nino", "es_dni", "iban"]


class GuardrailRule(ConfigModel):
    """One guardrail: PII detectors or a keyword list, on input and/or output."""

    name: str
    type: Literal["pii", "keywords"]
    action: Literal["block", "mask"] = "block"
    apply_to: list[Literal["input", "output"]] = ["input", "output"]
    detect: list[PiiKind] = ["email", "phone", "card", "national_id"]   # type pii
    keywords: list[str] = []                                            # type keywords (whole words)
    mask: str | None = None         # replacement text; default [EMAIL], [CARD], ... or [REDACTED]
