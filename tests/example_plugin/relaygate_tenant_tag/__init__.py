"""Tag every request with its tenant, from a header, so usage can be billed per tenant.

A complete third-party plugin in one module. It declares its own config section
(``tenant_tag:``), adds a stage to the request's way through the gateway
(``validate_request``), refuses a missing or malformed tag in the client's own
error shape, and puts the tag in ``ctx.labels``, which the core writes to the
request's ledger rows (column ``labels``, JSON).

    tenant_tag:
      header: x-tenant     # where clients send it
      required: false      # true: a request without the header is refused (400)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from proxy import hookimpl
from proxy.config import ConfigModel
from proxy.errors import RequestRejected

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.sections import Spec

LABEL = "tenant"
#: a tag ends up in ledgers and reports: keep it short and plain
VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class TenantTagConfig(ConfigModel):
    header: str = "x-tenant"
    required: bool = False


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"tenant_tag": TenantTagConfig}


@hookimpl
def relaygate_validate_request(ctx: RequestContext) -> None:
    config = ctx.gateway.settings.section(TenantTagConfig)
    tenant = ctx.request.headers.get(config.header)
    if tenant is None:
        if config.required:
            raise RequestRejected(f"header {config.header!r} is required: name your tenant", param=config.header)
        return
    if not VALID.fullmatch(tenant):
        raise RequestRejected(f"header {config.header!r} must be 1-64 letters, digits, '.', '_' or '-', "
                              "starting with a letter or digit", param=config.header)
    ctx.labels[LABEL] = tenant
