"""Where the text a provider will read sits in a body, on every surface.

Under the body's content fields (chat and Anthropic ``messages`` with their content
items and tool results, ``system``, Responses ``input`` and ``instructions``, Gemini
``contents`` / ``systemInstruction`` and their ``parts``, completions ``prompt``) every
string is text, except fields that hold identifiers, enums or opaque data (``id``,
``type``, ``role``, URLs, signatures, encrypted reasoning). Documents count as text when
they are: a ``text`` source's ``data``; base64 ``data`` (Anthropic ``source``, Gemini
``inlineData``) or a ``file_data`` data URI whose media type is text. Binary media
(images, PDFs) and tool definitions are not scanned.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

INPUT_KEYS = frozenset({"messages", "input", "prompt", "system", "contents", "instructions",
                        "systemInstruction", "system_instruction"})
OUTPUT_KEYS = frozenset({"choices", "content", "candidates", "output", "output_text", "completion"})
#: fields that hold identifiers, enums or opaque data, never text a model reads
SKIP_KEYS = frozenset({"id", "type", "role", "model", "name", "tool_call_id", "call_id", "tool_use_id",
                       "finish_reason", "stop_reason", "finishReason", "object", "index", "image_url", "url",
                       "file_url", "file_id", "mime_type", "mimeType", "media_type", "signature",
                       "thoughtSignature", "thought_signature", "encrypted_content", "detail", "cache_control"})
_MEDIA_KEYS = ("media_type", "mimeType", "mime_type")
#: media types read as text besides text/*
_TEXT_MEDIA = frozenset({"application/json", "application/xml", "application/x-yaml", "application/yaml"})


def _is_text_media(media: Any) -> bool:
    if not isinstance(media, str):
        return False
    media = media.split(";")[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_MEDIA


@dataclass
class TextField:
    """One place that holds text: ``container[key]``, stored plain, base64, or as a base64 data URI."""

    container: Any
    key: Any
    path: str
    encoding: str = "plain"            # "plain", "base64" or "data_uri"
    prefix: str = ""                   # a data URI's "data:text/plain;base64,"

    def get(self) -> str | None:
        value = self.container[self.key]
        if self.encoding == "plain":
            return str(value)
        raw = value[len(self.prefix):]
        try:
            return base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None                                    # not what it claims: nothing to read

    def set(self, text: str) -> None:
        if self.encoding == "plain":
            self.container[self.key] = text
        else:
            self.container[self.key] = self.prefix + base64.b64encode(text.encode()).decode()


def _data_field(obj: dict[str, Any], key: str, path: str) -> TextField | None:
    value = obj[key]
    if key == "data":
        if obj.get("type") == "text":                        # a document's text source
            return TextField(obj, key, path)
        if any(_is_text_media(obj.get(k)) for k in _MEDIA_KEYS):
            return TextField(obj, key, path, "base64")
        return None
    # file_data: a data URI (OpenAI file and input_file items)
    head, comma, _ = value.partition(",")
    if comma and head.startswith("data:") and head.endswith(";base64") and _is_text_media(head[5:]):
        return TextField(obj, key, path, "data_uri", head + ",")
    return None


def text_fields(obj: Any, top_keys: frozenset[str] | None, path: str = "") -> Iterator[TextField]:
    """Every :class:`TextField` under *top_keys* of *obj* (all keys below the top)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if (top_keys is not None and k not in top_keys) or k in SKIP_KEYS:
                continue
            sub = f"{path}.{k}" if path else k
            if isinstance(v, str):
                field = _data_field(obj, k, sub) if k in ("data", "file_data") else TextField(obj, k, sub)
                if field is not None:
                    yield field
            else:
                yield from text_fields(v, None, sub)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, str):
                yield TextField(obj, i, f"{path}[{i}]")
            else:
                yield from text_fields(v, None, f"{path}[{i}]")
