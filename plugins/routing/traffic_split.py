"""Default routing: pick a served model by its traffic percentage (A/B tests).

The pipeline passes only served models whose circuit is not open.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from proxy import hookimpl

if TYPE_CHECKING:
    from proxy.context import RequestContext, Route


def pick(candidates: list[Route], rnd: float) -> Route:
    """The candidate whose cumulative percentage band contains *rnd* (0..100)."""
    acc = 0.0
    for route in candidates:
        acc += route.served.traffic_percentage
        if rnd < acc:
            return route
    return next((r for r in reversed(candidates) if r.served.traffic_percentage > 0), candidates[-1])


@hookimpl(trylast=True)
def relaygate_select_route(ctx: RequestContext, candidates: list[Route]) -> Route | None:
    if len(candidates) == 1:
        return candidates[0]
    # Candidates are the healthy served models: split among them in proportion to their shares.
    total = sum(r.served.traffic_percentage for r in candidates)
    if total <= 0:                      # only 0% (fallback-only) models are left: take them in fallback order
        order = {name: i for i, name in enumerate(candidates[0].endpoint.fallbacks)}
        return min(candidates, key=lambda r: order.get(r.served.name, len(order)))
    return pick(candidates, random.random() * total)
