"""Chat content items (the reference's and OpenAI's) -> Anthropic content blocks.

Every content item of the reference has an Anthropic block with the same
meaning: ``text`` (its ``citations`` kept: Anthropic takes them back in
assistant turns), ``image_url`` -> ``image``, ``file`` -> ``document`` /
``image``, ``document`` -> ``document`` (base64, text, content and url sources,
``title``, ``context``, ``citations.enabled``), ``reasoning`` -> ``thinking``
(a ``summary_text`` with the ``signature`` Claude gave it) or
``redacted_thinking`` (a ``summary_encrypted_text``). An item with no block
(a thinking summary without its signature, a file known only by id) follows the
endpoint's policy: 400 naming it, or dropped and named. An item's
``cache_control`` goes on its block (:mod:`plugins.anthropic.cache_marks`).
"""

from __future__ import annotations

import base64
from typing import Any

from plugins.anthropic.cache_marks import carry
from plugins.translate.pivot import Options, mime_from_url, parse_data_uri


def image_block(url: str) -> dict[str, Any]:
    parsed = parse_data_uri(url)
    if parsed:
        mime, data = parsed
        kind = "document" if mime == "application/pdf" else "image"
        return {"type": kind, "source": {"type": "base64", "media_type": mime, "data": data}}
    kind = "document" if mime_from_url(url) == "application/pdf" else "image"
    return {"type": kind, "source": {"type": "url", "url": url}}


def _text(part: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.get("text", "")}
    if isinstance(part.get("citations"), list) and part["citations"]:
        block["citations"] = [dict(c) for c in part["citations"] if isinstance(c, dict)]
    return block


def _file(part: dict[str, Any], opts: Options) -> dict[str, Any] | None:
    f = part.get("file") or {}
    parsed = parse_data_uri(f.get("file_data") or "")
    if not parsed:
        opts.unsupported("messages.content.file", "only inline file_data (data: URI) can be sent")
        return None
    mime, data = parsed
    block: dict[str, Any] = {"type": "document", "source": {"type": "base64", "media_type": mime, "data": data}}
    if mime.startswith("image/"):
        block["type"] = "image"
    elif mime.startswith("text/"):
        block["source"] = {"type": "text", "media_type": "text/plain",
                           "data": base64.b64decode(data).decode("utf-8", "replace")}
    if f.get("filename") and block["type"] == "document":
        block["title"] = f["filename"]
    return block


def _source(source: dict[str, Any], opts: Options) -> dict[str, Any]:
    kind = source.get("type")
    if kind == "base64":
        return {"type": "base64", "media_type": source.get("media_type") or "application/pdf",
                "data": source.get("data", "")}
    if kind == "text":
        return {"type": "text", "media_type": source.get("media_type") or "text/plain", "data": source.get("data", "")}
    if kind == "url":
        return {"type": "url", "url": source.get("url", "")}
    content = source.get("content")
    if isinstance(content, list):
        content = [b for p in content if isinstance(p, dict) for b in part_blocks(p, opts)]
    return {"type": "content", "content": content if content is not None else ""}


def document_block(part: dict[str, Any], opts: Options) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "document", "source": _source(part.get("source") or {}, opts)}
    for key in ("title", "context"):
        if isinstance(part.get(key), str):
            block[key] = part[key]
    cites = part.get("citations")
    if isinstance(cites, dict) and "enabled" in cites:
        block["citations"] = {"enabled": cites["enabled"] is True}
    return block


def reasoning_blocks(part: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    """A reasoning item's summaries as thinking blocks Claude accepts back."""
    blocks: list[dict[str, Any]] = []
    for s in part.get("summary") or []:
        if not isinstance(s, dict):
            continue
        if s.get("type") == "summary_encrypted_text":
            blocks.append({"type": "redacted_thinking", "data": s.get("data", "")})
        elif isinstance(s.get("signature"), str) and s["signature"]:
            blocks.append({"type": "thinking", "thinking": s.get("text", ""), "signature": s["signature"]})
        else:
            opts.unsupported("messages.content.reasoning.summary.signature",
                             "Claude takes its thinking back only with the signature it came with")
    return blocks


def part_blocks(part: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    """The Anthropic blocks of one chat content item (none if the policy dropped it), its prompt-cache
    breakpoint on the last (never on a thinking block: Anthropic refuses one there)."""
    blocks = _blocks_of(part, opts)
    if blocks and blocks[-1]["type"] not in ("thinking", "redacted_thinking"):
        carry(part, blocks[-1])
    return blocks


def _blocks_of(part: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    kind = part.get("type")
    if kind == "text":
        return [_text(part)]
    if kind == "image_url":
        iu = part.get("image_url")
        return [image_block(iu.get("url", "") if isinstance(iu, dict) else str(iu))]
    if kind == "file":
        block = _file(part, opts)
        return [block] if block else []
    if kind == "document":
        return [document_block(part, opts)]
    if kind == "reasoning":
        return reasoning_blocks(part, opts)
    opts.unsupported(f"messages.content.{kind}", f"content part type {kind!r} has no Anthropic block")
    return []


def user_blocks(content: Any, opts: Options) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for part in content or [] if isinstance(part, dict) for b in part_blocks(part, opts)]


def assistant_content_blocks(content: Any, opts: Options) -> list[dict[str, Any]]:
    """An assistant message's content as blocks: thinking first (Claude's order), then the rest."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = user_blocks(content, opts)
    thinking = [b for b in blocks if b["type"] in ("thinking", "redacted_thinking")]
    rest = [b for b in blocks if b["type"] not in ("thinking", "redacted_thinking")
            and not (b["type"] == "text" and not b["text"] and "citations" not in b)]
    return thinking + rest
