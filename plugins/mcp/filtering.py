"""What an upstream's messages become for one caller: lists cut to the policy, notifications checked.

The same :func:`plugins.mcp.policy.permits` that refuses calls decides what stays in a list,
so a tool is listed exactly when it may be called. Resource templates are kept when the
caller may read some resource at all on the server (a template is not a resource; reading
one it yields is checked by URI). ``notifications/resources/updated`` about a resource the
caller may not read is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugins.mcp.messages import LIST_METHODS

#: (kind, name) -> allowed
Allows = Callable[[str, str], bool]
_ITEM_NAME = {"tools": ("tools", "name"), "prompts": ("prompts", "name"), "resources": ("resources", "uri")}


def filter_list(method: str, result: dict[str, Any], allows: Allows, any_resource: bool,
                rename: Callable[[str], str] | None = None) -> dict[str, Any]:
    """*result* of a list *method* keeping only what *allows*; *rename* namespaces kept names."""
    field = LIST_METHODS[method]
    items = result.get(field)
    if not isinstance(items, list):
        return result
    if field == "resourceTemplates":
        kept = items if any_resource else []
    else:
        kind, key = _ITEM_NAME[field]
        kept = [item for item in items
                if isinstance(item, dict) and isinstance(item.get(key), str) and allows(kind, item[key])]
        if rename is not None and key == "name":
            kept = [dict(item, name=rename(item["name"])) for item in kept]
    return dict(result, **{field: kept})


def notification_allowed(msg: dict[str, Any], allows: Allows) -> bool:
    if msg.get("method") == "notifications/resources/updated":
        uri = (msg.get("params") or {}).get("uri")
        return isinstance(uri, str) and allows("resources", uri)
    return True
