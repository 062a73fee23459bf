"""The reference's content items that are not OpenAI's, as Gemini parts.

- ``document``: a ``base64`` source -> ``inlineData`` (its media type), a
  ``text`` source -> ``inlineData`` ``text/plain`` (Gemini reads text files
  inline), a ``url`` source -> ``fileData``, a ``content`` source -> its text and
  image parts. ``title`` and ``context`` go before it as a text part (Gemini has
  no field for them, and the model should still read them). ``citations:
  {"enabled": true}`` asks for citations Gemini cannot give: the policy decides.
- ``reasoning``: each ``summary_text`` -> a ``thought`` part (with its
  ``signature`` as ``thoughtSignature``); a ``summary_encrypted_text`` is another
  provider's secret and has no Gemini part: the policy decides.
- ``citations`` on a ``text`` item have no Gemini field: the policy decides.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from plugins.translate.pivot import Options, mime_from_url

PartsOf = Callable[[Any, Options], list[dict[str, Any]]]


def text_part(part: dict[str, Any], opts: Options) -> dict[str, Any]:
    if part.get("citations"):
        opts.unsupported("messages.content.text.citations", "Gemini takes no citations in a request")
    return {"text": part.get("text", "")}


def _source_parts(source: dict[str, Any], opts: Options, parts_of: PartsOf) -> list[dict[str, Any]]:
    kind = source.get("type")
    if kind == "base64":
        return [{"inlineData": {"mimeType": source.get("media_type") or "application/pdf",
                                "data": source.get("data", "")}}]
    if kind == "text":
        data = base64.b64encode(str(source.get("data", "")).encode()).decode()
        return [{"inlineData": {"mimeType": source.get("media_type") or "text/plain", "data": data}}]
    if kind == "url":
        url = source.get("url", "")
        return [{"fileData": {"mimeType": mime_from_url(url, "application/pdf"), "fileUri": url}}]
    return parts_of(source.get("content"), opts)


def document_parts(part: dict[str, Any], opts: Options, parts_of: PartsOf) -> list[dict[str, Any]]:
    if isinstance(part.get("citations"), dict) and part["citations"].get("enabled") is True:
        opts.unsupported("messages.content.document.citations", "Gemini does not cite documents")
    about = "\n".join(str(part[k]) for k in ("title", "context") if isinstance(part.get(k), str) and part[k])
    head = [{"text": about}] if about else []
    return head + _source_parts(part.get("source") or {}, opts, parts_of)


def reasoning_parts(part: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in part.get("summary") or []:
        if not isinstance(s, dict):
            continue
        if s.get("type") == "summary_encrypted_text":
            opts.unsupported("messages.content.reasoning.summary_encrypted_text",
                             "encrypted reasoning belongs to the provider that made it; Gemini has no part for it")
            continue
        thought: dict[str, Any] = {"text": s.get("text", ""), "thought": True}
        if isinstance(s.get("signature"), str) and s["signature"]:
            thought["thoughtSignature"] = s["signature"]
        out.append(thought)
    return out
