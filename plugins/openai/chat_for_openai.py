"""A chat body fitted to OpenAI itself (``openai`` / ``azure_openai`` providers).

The reference's chat body is OpenAI's plus a few things OpenAI refuses with a
400. Fitted here, for the passthrough and for translations alike:

- ``top_k``: OpenAI has no top-k sampling; the endpoint's policy decides (400
  naming it, or dropped and named);
- a ``document`` item -> OpenAI's ``file`` part (``base64`` source, as a data URI
  with the title as file name) or a ``text`` part (``text`` source, or a string
  ``content`` source), its ``title``/``context`` as a text part before it; a ``url``
  document, ``citations: {"enabled": true}``, a ``reasoning`` item and ``citations``
  on a text item have no OpenAI form: the policy decides.

An OpenAI-compatible server (vLLM, a reference-compatible host) gets the body as
sent: it may understand all of these.
"""

from __future__ import annotations

from typing import Any

from plugins.translate.pivot import OPENAI_KINDS, Options, data_uri
from proxy.exchange import SAMPLING


def _document(part: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    if isinstance(part.get("citations"), dict) and part["citations"].get("enabled") is True:
        opts.unsupported("messages.content.document.citations", "OpenAI chat does not cite documents")
    source = part.get("source") or {}
    kind = source.get("type")
    # A text document's title and context go before it (a PDF's title is its file name).
    keys = ("context",) if kind == "base64" else ("title", "context")
    about = "\n".join(str(part[k]) for k in keys if isinstance(part.get(k), str) and part[k])
    head = [{"type": "text", "text": about}] if about else []
    if kind == "base64":
        f = {"file_data": data_uri(source.get("media_type") or "application/pdf", source.get("data", "")),
             "filename": part.get("title") or "document.pdf"}
        return head + [{"type": "file", "file": f}]
    if kind == "text":
        return head + [{"type": "text", "text": source.get("data", "")}]
    if kind == "content" and isinstance(source.get("content"), str):
        return head + [{"type": "text", "text": source["content"]}]
    if kind == "content" and isinstance(source.get("content"), list):
        return head + fit_parts(source["content"], opts)
    opts.unsupported("messages.content.document.source", f"OpenAI takes no {kind!r} document source")
    return []


def fit_parts(parts: list[Any], opts: Options) -> list[Any]:
    out: list[Any] = []
    for p in parts:
        kind = p.get("type") if isinstance(p, dict) else None
        if kind == "document":
            out.extend(_document(p, opts))
        elif kind == "reasoning":
            opts.unsupported("messages.content.reasoning", "OpenAI chat takes no reasoning back")
        elif kind == "text" and "citations" in p:
            if p["citations"]:
                opts.unsupported("messages.content.text.citations", "OpenAI chat takes no citations")
            out.append({k: v for k, v in p.items() if k != "citations"})
        else:
            out.append(p)
    return out


def _fit_message(m: Any, opts: Options) -> Any:
    if not isinstance(m, dict) or not isinstance(m.get("content"), list):
        return m
    content = m["content"]
    kinds = {p.get("type") for p in content if isinstance(p, dict)}
    if not kinds & {"document", "reasoning"} and not any(isinstance(p, dict) and "citations" in p for p in content):
        return m
    return {**m, "content": fit_parts(content, opts)}


def fit_for_openai(body: dict[str, Any], opts: Options) -> dict[str, Any]:
    """*body* fitted to an OpenAI provider (a copy when anything changed), else *body*."""
    if opts.target not in OPENAI_KINDS:
        return body
    out = body
    if "top_k" in body:
        if body["top_k"] is not None:
            opts.unsupported("top_k", "OpenAI has no top_k sampling", SAMPLING)
        out = {k: v for k, v in body.items() if k != "top_k"}
    messages = body.get("messages")
    if isinstance(messages, list):
        fitted = [_fit_message(m, opts) for m in messages]
        if any(a is not b for a, b in zip(fitted, messages)):
            out = {**out, "messages": fitted}
    return out
