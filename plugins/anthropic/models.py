"""The most output tokens each Claude model may generate (Anthropic's model overview).

Anthropic requires ``max_tokens``; the reference says a missing or null
``max_tokens`` means no limit, so a translated request asks for the model's
maximum. The price catalogue knows context windows but not output limits, hence
this table, matched by the longest prefix of the model id (dated snapshots and
``-latest`` aliases share their family's limit).
"""

from __future__ import annotations

import re

#: model id prefix -> max output tokens
MAX_OUTPUT_TOKENS = {
    "claude-3-haiku": 4096, "claude-3-sonnet": 4096, "claude-3-opus": 4096,
    "claude-3-5-haiku": 8192, "claude-3-5-sonnet": 8192,
    "claude-3-7-sonnet": 64000,
    "claude-sonnet-4-0": 64000, "claude-sonnet-4-2": 64000, "claude-sonnet-4-5": 64000, "claude-sonnet-4-6": 64000,
    "claude-opus-4-0": 32000, "claude-opus-4-1": 32000, "claude-opus-4-2": 32000, "claude-opus-4-5": 64000,
    "claude-opus-4-6": 128000,
    "claude-haiku-4-5": 64000,
}
#: a Claude of generation 4 or later that the table does not know yet
NEWER_MODEL_DEFAULT = 64000
_GENERATION = re.compile(r"claude-(?:[a-z]+-)?(\d+)")


def max_output_tokens(model: str) -> int | None:
    """The output limit of *model*, or None for a model that is not a known Claude
    (an Anthropic-compatible host's own model)."""
    name = model.rsplit("/", 1)[-1].lower()
    best = ""
    for prefix in MAX_OUTPUT_TOKENS:
        if name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    if best:
        return MAX_OUTPUT_TOKENS[best]
    match = _GENERATION.match(name)
    if match and int(match.group(1)) >= 4:
        return NEWER_MODEL_DEFAULT
    return None
