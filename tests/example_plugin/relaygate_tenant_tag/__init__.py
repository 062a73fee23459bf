"""Tag every request with its tenant, from a header, so usage can be billed per tenant.

A complete third-party plugin in one module: it adds a stage to the request's
way through the gateway (``validate_request``), refuses a malformed tag in the
client's own error shape, and puts the tag in ``ctx.labels``, which the core
writes to the request's ledger rows (column ``labels``, JSON).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from proxy import hookimpl
from proxy.errors import RequestRejected

if TYPE_CHECKING:
    from proxy.context import RequestContext

HEADER = "x-tenant"
LABEL = "tenant"
#: a tag ends up in ledgers and reports: keep it short and plain
VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@hookimpl
def relaygate_validate_request(ctx: RequestContext) -> None:
    tenant = ctx.request.headers.get(HEADER)
    if tenant is None:
        return
    if not VALID.fullmatch(tenant):
        raise RequestRejected(f"header {HEADER!r} must be 1-64 letters, digits, '.', '_' or '-', "
                              "starting with a letter or digit", param=HEADER)
    ctx.labels[LABEL] = tenant
