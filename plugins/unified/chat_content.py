"""Chat message content items of the reference (the newest, ``.ja`` edition).

``text`` (with ``citations`` and ``cache_control``), ``image_url`` (data URI
or URL), ``reasoning`` (``summary_text`` / ``summary_encrypted_text``
summaries), ``document`` (base64, text, content or url source) and ``file``.
Each is checked for its type and required fields; other OpenAI part types
(``input_audio``, ``refusal``, ...) pass through, as do unknown fields.
"""

from __future__ import annotations

from typing import Any

from proxy.checks import is_int
from proxy.errors import RequestRejected

IMAGE_DETAILS = ("auto", "low", "high")
DOCUMENT_SOURCES = ("base64", "text", "content", "url")


def _reject(message: str, param: str) -> RequestRejected:
    return RequestRejected(message, param=param)


def _need_str(obj: dict[str, Any], name: str, where: str) -> str:
    v = obj.get(name)
    if not isinstance(v, str):
        raise _reject(f"'{where}.{name}' is required and must be a string", f"{where}.{name}")
    return v


def _opt_str(obj: dict[str, Any], name: str, where: str) -> None:
    v = obj.get(name)
    if v is not None and not isinstance(v, str):
        raise _reject(f"'{where}.{name}' must be a string", f"{where}.{name}")


def _cache_control(part: dict[str, Any], where: str) -> None:
    # The reference says string; Anthropic-style clients send {"type": "ephemeral"}.
    cc = part.get("cache_control")
    if cc is not None and not isinstance(cc, (str, dict)):
        raise _reject(f"'{where}.cache_control' must be a string or an object", f"{where}.cache_control")
    if isinstance(cc, dict) and not isinstance(cc.get("type"), str):
        raise _reject(f"'{where}.cache_control.type' is required", f"{where}.cache_control.type")


def _citations(part: dict[str, Any], where: str) -> None:
    cites = part.get("citations")
    if cites is None:
        return
    if not isinstance(cites, list):
        raise _reject(f"'{where}.citations' must be a list", f"{where}.citations")
    for i, c in enumerate(cites):
        w = f"{where}.citations[{i}]"
        if not isinstance(c, dict):
            raise _reject(f"'{w}' must be an object", w)
        _need_str(c, "type", w)
        for name in ("cited_text", "document_title"):
            _opt_str(c, name, w)
        for name in ("document_index", "start_char_index", "end_char_index"):
            if c.get(name) is not None and not is_int(c[name]):
                raise _reject(f"'{w}.{name}' must be an integer", f"{w}.{name}")


def _text(part: dict[str, Any], where: str) -> None:
    _need_str(part, "text", where)
    _citations(part, where)


def _image(part: dict[str, Any], where: str) -> None:
    image = part.get("image_url")
    if not isinstance(image, dict):
        raise _reject(f"'{where}.image_url' is required: an object with 'url'", f"{where}.image_url")
    url = _need_str(image, "url", f"{where}.image_url")
    if not url.startswith(("data:", "https://", "http://")):
        raise _reject(f"'{where}.image_url.url' must be an http(s) URL or a base64 data URI",
                      f"{where}.image_url.url")
    if image.get("detail") is not None and image["detail"] not in IMAGE_DETAILS:
        raise _reject(f"'{where}.image_url.detail' must be one of {', '.join(IMAGE_DETAILS)}",
                      f"{where}.image_url.detail")


def _reasoning(part: dict[str, Any], where: str) -> None:
    summary = part.get("summary")
    if not isinstance(summary, list):
        raise _reject(f"'{where}.summary' is required: a list of summaries", f"{where}.summary")
    for i, s in enumerate(summary):
        w = f"{where}.summary[{i}]"
        if not isinstance(s, dict):
            raise _reject(f"'{w}' must be an object", w)
        kind = s.get("type")
        if kind == "summary_text":
            _need_str(s, "text", w)
            _opt_str(s, "signature", w)
        elif kind == "summary_encrypted_text":
            _need_str(s, "data", w)
        else:
            raise _reject(f"'{w}.type' must be summary_text or summary_encrypted_text; got {kind!r}", f"{w}.type")


def _document(part: dict[str, Any], where: str) -> None:
    _opt_str(part, "title", where)
    _opt_str(part, "context", where)
    source = part.get("source")
    if not isinstance(source, dict):
        raise _reject(f"'{where}.source' is required: an object", f"{where}.source")
    w = f"{where}.source"
    kind = source.get("type")
    if kind not in DOCUMENT_SOURCES:
        raise _reject(f"'{w}.type' must be one of {', '.join(DOCUMENT_SOURCES)}; got {kind!r}", f"{w}.type")
    if kind in ("base64", "text"):
        _need_str(source, "media_type", w)
        _need_str(source, "data", w)
    elif kind == "url":
        _need_str(source, "url", w)
    elif not isinstance(source.get("content"), (str, list)):
        raise _reject(f"'{w}.content' is required: a string or a list of content items", f"{w}.content")
    citations = part.get("citations")
    if citations is not None and (not isinstance(citations, dict)
                                  or not isinstance(citations.get("enabled", False), bool)):
        raise _reject(f"'{where}.citations' must be an object like {{\"enabled\": true}}", f"{where}.citations")


def _file(part: dict[str, Any], where: str) -> None:
    file = part.get("file")
    if not isinstance(file, dict):
        raise _reject(f"'{where}.file' is required: an object with 'file_data'", f"{where}.file")
    w = f"{where}.file"
    _opt_str(file, "filename", w)
    _opt_str(file, "file_id", w)
    if file.get("file_id") is None:      # OpenAI also accepts an uploaded file's id instead
        _need_str(file, "file_data", w)


_CHECKS = {"text": _text, "image_url": _image, "reasoning": _reasoning, "document": _document, "file": _file}


def validate_content_parts(parts: list[Any], where: str) -> None:
    """Check each content item of one message's ``content`` list."""
    for i, part in enumerate(parts):
        w = f"{where}[{i}]"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise _reject(f"'{w}' must be an object with a string 'type'", w)
        check = _CHECKS.get(part["type"])
        if check is not None:
            check(part, w)
        _cache_control(part, w)
