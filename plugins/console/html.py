"""The console's HTML: one layout, escaped values, tables and forms. No template engine, no script.

Every value goes through :func:`esc`. Links are built with :func:`Page.href` so the console
works under a reverse proxy's path prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

NAV = (("", "Usage"), ("keys", "Keys"), ("budgets", "Budgets & limits"), ("requests", "Requests"),
       ("health", "Providers"), ("audit", "Audit log"))


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


@dataclass(frozen=True, slots=True)
class Page:
    """What every page needs: where the console is, who is looking, and their CSRF token."""

    base: str                  # the external path prefix ("" or "/gw")
    who: str = ""
    role: str = ""
    csrf: str = ""

    def href(self, path: str = "") -> str:
        return f"{self.base}/console/{path}"

    def form(self, action: str, body: str, *, button: str, css: str = "") -> str:
        """A POST form carrying the CSRF token."""
        return (f'<form method="post" action="{esc(self.href(action))}" class="{esc(css)}">'
                f'<input type="hidden" name="csrf" value="{esc(self.csrf)}">{body}'
                f'<button type="submit">{esc(button)}</button></form>')


def layout(page: Page, title: str, body: str, *, current: str = "") -> str:
    nav = "".join(f'<a href="{esc(page.href(path))}"{" class=on" if path == current else ""}>{esc(name)}</a>'
                  for path, name in NAV) if page.who else ""
    who = (f'<span class="who">{esc(page.who)} · {esc(page.role)}</span>'
           + page.form("logout", "", button="Sign out", css="inline")) if page.who else ""
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)} · Relaygate</title>"
            f'<link rel=stylesheet href="{esc(page.href("static/console.css"))}"></head><body>'
            f'<header><strong>Relaygate</strong><nav>{nav}</nav>{who}</header>'
            f"<main><h1>{esc(title)}</h1>{body}</main></body></html>")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, raw: Sequence[int] = (),
          css: str = "") -> str:
    """A table; columns whose index is in *raw* hold HTML already built (forms), the rest is escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if i in raw else esc(c)}</td>" for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{body or ""}</tbody></table>' + \
        ("" if body else '<p class="empty">Nothing yet.</p>')


def notice(text: str, kind: str = "info") -> str:
    return f'<p class="notice {esc(kind)}">{esc(text)}</p>'


def usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.4f}"
