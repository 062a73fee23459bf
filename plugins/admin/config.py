"""``admin:`` (declared by plugins.admin.api)."""

from __future__ import annotations

from pydantic import SecretStr

from proxy.config import ConfigModel


class AdminConfig(ConfigModel):
    """The admin API (/admin/v1); disabled (404) without a token. Env fallback: RELAYGATE_ADMIN_TOKEN."""

    token: SecretStr | None = None
