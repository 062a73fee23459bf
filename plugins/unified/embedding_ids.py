"""Every embeddings answer has an ``id``, as the reference's embeddings response does.

OpenAI's own answer has none; a translated one (Gemini) gets its id where it is
made. An answer still without one gets ``emb-<random>`` here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins.translate.pivot import new_id
from proxy import hookimpl
from proxy.hooks import for_apis

if TYPE_CHECKING:
    from proxy.context import RequestContext


@hookimpl
@for_apis("openai.embeddings")
def relaygate_transform_response(ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any] | None:
    if ctx.api.id != "openai.embeddings" or "id" in body or body.get("object") != "list":
        return None
    return {"id": new_id("emb-"), **body}
