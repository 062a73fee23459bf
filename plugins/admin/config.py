"""``admin:`` (declared by plugins.admin.api)."""

from __future__ import annotations

from pydantic import SecretStr

from proxy.config import ConfigModel


class AdminConfig(ConfigModel):
    """The admin API (/admin/v1) and the console (/console); disabled (404) without a token or SSO
    groups. Env fallback for the token: RELAYGATE_ADMIN_TOKEN."""

    token: SecretStr | None = None
    #: signed-in people (auth.jwt) in one of these groups are admins: they may change things
    sso_admin_groups: list[str] = []
    #: ... and in one of these, read-only viewers of the console and the admin API's reports
    sso_viewer_groups: list[str] = []
