"""The ``anthropic-beta`` policy of one upstream provider.

Claude Code sends eight or so betas on every call; Anthropic itself accepts them, but an
Anthropic-compatible endpoint behind another cloud rejects betas it does not know. Per
provider (``providers.<name>.options.anthropic_beta``)::

    anthropic_beta:
      strip: ["context-1m-*", "prompt-caching-scope-*"]   # removed before the call
      reject: ["mid-conversation-system-*"]               # refused with 400 naming the beta

Everything else is forwarded (the default). Patterns are fnmatch globs. This module
has no hooks: the Anthropic provider calls :func:`outgoing_betas` when it builds
headers, and plugins/agents calls :func:`rejected_beta` when it admits a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

OPTION = "anthropic_beta"


@dataclass(frozen=True, slots=True)
class BetaPolicy:
    strip: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()

    @property
    def forwards_all(self) -> bool:
        return not self.strip and not self.reject


FORWARD_ALL = BetaPolicy()


def policy_of(options: dict[str, Any] | None, provider: str = "") -> BetaPolicy:
    """The policy in a provider's ``options``; ValueError names the wrong field."""
    raw = (options or {}).get(OPTION)
    if raw is None:
        return FORWARD_ALL
    where = f"providers.{provider}.options.{OPTION}" if provider else OPTION
    if not isinstance(raw, dict) or set(raw) - {"strip", "reject", "forward"}:
        raise ValueError(f"{where}: expected a mapping with 'strip' and/or 'reject' (lists of beta names)")
    lists: dict[str, tuple[str, ...]] = {}
    for field in ("strip", "reject"):
        value = raw.get(field, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"{where}.{field}: expected a list of beta names or patterns")
        lists[field] = tuple(value)
    return BetaPolicy(**lists)


def split_betas(values: list[str] | str | None) -> list[str]:
    """Beta names of one or several ``anthropic-beta`` header values (comma-separated lists)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [b.strip() for v in values for b in v.split(",") if b.strip()]


def _matches(beta: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(beta, p) for p in patterns)


def rejected_beta(policy: BetaPolicy, values: list[str] | str | None) -> str | None:
    """The first beta the policy refuses, or None."""
    if not policy.reject:
        return None
    return next((b for b in split_betas(values) if _matches(b, policy.reject)), None)


def outgoing_betas(policy: BetaPolicy, values: list[str] | str | None) -> str | None:
    """The ``anthropic-beta`` value to send upstream (None: send no header)."""
    betas = split_betas(values)
    if policy.strip:
        betas = [b for b in betas if not _matches(b, policy.strip)]
    return ",".join(betas) or None
