"""Token counts of one provider call, in the gateway's own vocabulary."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Usage:
    """Token counts of one provider call, in the gateway's own vocabulary."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_tokens: int = 0
    #: the part of ``cache_creation_tokens`` written for one hour (Anthropic ``ttl: "1h"``), priced apart
    cache_creation_1h_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0

    def merge(self, other: Usage) -> None:
        """Take every non-zero count of *other* (streams report usage in pieces)."""
        for name in self.__slots__:
            value = getattr(other, name)
            if value:
                setattr(self, name, value)

    def finish(self) -> Usage:
        if not self.total_tokens:
            self.total_tokens = self.input_tokens + self.output_tokens
        return self
