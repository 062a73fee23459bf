"""The rules of each Anthropic API version a translated body must follow.

A provider's ``api_version`` names the ``anthropic-version`` it sends
(``2023-06-01`` unless set). The 2026-10-21 version refuses ``temperature``,
``top_p`` and ``top_k`` even at their defaults, ``document`` blocks in
assistant turns and ``citations`` in user turns. A client on another surface
never chose that version, so the translation fits the body to it instead of
passing those 400s on:

- a sampling knob at its default (``temperature`` 1, ``top_p`` 1) is left out:
  the model samples the same without it; any other value follows the endpoint's
  policy (400 naming it, or dropped and named);
- citations in a user turn are left out (they point into an earlier answer and
  change nothing the model reads) and named in ``x-relaygate-dropped``;
- a text document in an assistant turn becomes a text block; any other document
  there follows the policy.
"""

from __future__ import annotations

from typing import Any

from plugins.translate.pivot import Options
from proxy.exchange import SAMPLING

DEFAULT_VERSION = "2023-06-01"
STRICT_SAMPLING_VERSION = "2026-10-21"
SAMPLING_DEFAULTS = {"temperature": 1, "top_p": 1, "top_k": None}


def _strict(version: str) -> bool:
    return version >= STRICT_SAMPLING_VERSION


def _drop_named(opts: Options, name: str) -> None:
    if name not in opts.dropped:
        opts.dropped.append(name)


def _assistant_document(block: dict[str, Any], opts: Options) -> dict[str, Any] | None:
    source = block.get("source") or {}
    if source.get("type") == "text":
        return {"type": "text", "text": source.get("data", "")}
    if source.get("type") == "content" and isinstance(source.get("content"), str):
        return {"type": "text", "text": source["content"]}
    opts.unsupported("messages.content.document", f"Anthropic API {opts.api_version} takes documents only in "
                                                   "user turns")
    return None


def fit_to_version(out: dict[str, Any], opts: Options) -> None:
    """Make the translated Messages body *out* valid for the provider's API version (in place)."""
    version = opts.api_version or DEFAULT_VERSION
    if not _strict(version):
        return
    for name, default in SAMPLING_DEFAULTS.items():
        if name not in out:
            continue
        value = out.pop(name)
        if value is not None and value != default:
            opts.unsupported(name, f"Anthropic API {version} refuses {name}", SAMPLING)
    for message in out.get("messages") or []:
        blocks = message.get("content")
        if not isinstance(blocks, list):
            continue
        fitted: list[dict[str, Any]] = []
        for b in blocks:
            if message.get("role") == "user" and b.get("type") == "text" and "citations" in b:
                b = {k: v for k, v in b.items() if k != "citations"}
                _drop_named(opts, "messages.content.citations")
            elif message.get("role") == "assistant" and b.get("type") == "document":
                doc = _assistant_document(b, opts)
                if doc is None:
                    continue
                b = doc
            fitted.append(b)
        message["content"] = fitted
