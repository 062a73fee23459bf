"""A fake Anthropic that implements prompt caching by hashing prefixes.

Anthropic caches the prompt prefix (tools, then system, then message blocks, in that
order) up to each block marked ``cache_control``, if it is at least 1024 tokens long; a
later request reads the longest cached prefix that ends at one of its breakpoints or up
to 20 blocks before one. Modelled here with a chain of hashes over the canonical JSON of
the blocks (markers left out) and tokens estimated as 4 bytes each; the answer's usage
reports cache reads, cache writes and the rest, as Anthropic does.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from .behavior import Behavior, Usage
from .fake_anthropic import FakeAnthropic

MIN_CACHEABLE_TOKENS = 1024
LOOKBACK_BLOCKS = 20


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    system = body.get("system")
    out += [{"type": "text", "text": system}] if isinstance(system, str) else list(system or [])
    for i, m in enumerate(body.get("messages") or []):
        content = m.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        out += [{**b, "_turn": i, "_role": m.get("role")} for b in blocks]
    return out


def _canonical(block: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True).encode()


class PrefixCache:
    def __init__(self) -> None:
        self.cached: set[str] = set()

    def usage(self, body: dict[str, Any]) -> tuple[int, int, int]:
        """(uncached input, cache read, cache write) tokens of one request; remembers what it wrote."""
        hashes, tokens, marks = [], [], []
        h, total = b"", 0
        for i, block in enumerate(_blocks(body)):
            data = _canonical(block)
            h = hashlib.sha256(h + data).digest()
            total += max(1, len(data) // 4)
            hashes.append(h.hex())
            tokens.append(total)
            if "cache_control" in block:
                marks.append(i)
        read_at = -1
        for mark in marks:
            for p in range(mark, max(-1, mark - LOOKBACK_BLOCKS), -1):
                if hashes[p] in self.cached and p > read_at:
                    read_at = p
                    break
        read = tokens[read_at] if read_at >= 0 else 0
        written_to = read_at
        for mark in marks:
            if tokens[mark] >= MIN_CACHEABLE_TOKENS and mark > read_at:
                self.cached.add(hashes[mark])
                written_to = max(written_to, mark)
        written = tokens[written_to] - read if written_to > read_at else 0
        return total - read - written, read, written


class FakeAnthropicPrefixCache(FakeAnthropic):
    """FakeAnthropic whose usage comes from :class:`PrefixCache` (the script still says what is answered)."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__(prefix)
        self.cache = PrefixCache()

    async def messages(self, request, rec, b: Behavior):
        fresh, read, written = self.cache.usage(rec.body or {})
        out = b.get_usage().output_tokens
        b = dataclasses.replace(b, usage=Usage(input_tokens=fresh, output_tokens=out, cached_tokens=read,
                                               cache_creation_tokens=written))
        return await super().messages(request, rec, b)
