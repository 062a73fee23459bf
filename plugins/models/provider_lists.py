"""Asking a provider which models it serves: one GET per provider type, its own list shape.

Through the provider's base URL, extra headers and credentials, like a request
(the URL is checked the same way). Azure OpenAI and Vertex AI have no list of
callable ids under the base URL: their wildcard endpoints use the explicit list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from proxy.errors import GatewayError
from proxy.hygiene import check_upstream_url

if TYPE_CHECKING:
    from proxy.providers import Provider

MAX_PAGES = 10          # Gemini pages its list; ten pages of 1000 is every model there is


def _data_ids(body: Any) -> list[str]:
    return [m["id"] for m in body.get("data") or [] if isinstance(m, dict) and isinstance(m.get("id"), str)]


def _gemini_ids(body: Any) -> list[str]:
    return [m["name"].removeprefix("models/") for m in body.get("models") or []
            if isinstance(m, dict) and isinstance(m.get("name"), str)]


@dataclass(frozen=True)
class ListApi:
    path: str                                       # below the provider's base URL
    ids: Callable[[Any], list[str]]
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)     # ours, fixed: sent beside the checked URL
    page_param: str = ""                            # query parameter of the next page ("" = one page)
    next_page: str = ""                             # where the body names the next page


#: provider type -> how its model list is read
LIST_APIS: dict[str, ListApi] = {
    "openai": ListApi("/models", _data_ids),
    "openai_compatible": ListApi("/models", _data_ids),
    "anthropic": ListApi("/v1/models", _data_ids, {"anthropic-version": "2023-06-01"}, {"limit": "1000"}),
    "gemini": ListApi("/v1beta/models", _gemini_ids, query={"pageSize": "1000"}, page_param="pageToken",
                      next_page="nextPageToken"),
}


async def provider_model_ids(session: aiohttp.ClientSession, provider: Provider, timeout: float) -> list[str] | None:
    """The model ids *provider* lists, or None when it has no list or the call failed."""
    api = LIST_APIS.get(provider.config.type)
    if api is None:
        return None
    url = provider.base_url + api.path
    try:
        check_upstream_url(provider, url)
    except GatewayError:
        return None
    headers = {**api.headers, **provider.extra_headers, **await provider.auth_headers()}
    ids: list[str] = []
    params = dict(api.query)
    try:
        async with asyncio.timeout(timeout):
            for _ in range(MAX_PAGES):
                async with session.get(url, headers=headers, params=params or None, allow_redirects=False) as r:
                    if r.status != 200:
                        return None
                    body = await r.json(content_type=None)
                if not isinstance(body, dict):
                    return None
                ids += api.ids(body)
                token = body.get(api.next_page) if api.next_page else None
                if not token:
                    break
                params = {**api.query, api.page_param: str(token)}
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    return ids
