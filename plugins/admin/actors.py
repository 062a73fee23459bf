"""Who is at the admin API or the console: the admin token, or a signed-in person with a role.

Roles: ``admin`` may change things (keys, config reloads); ``viewer`` may only look. The admin
token is always ``admin``. A person's role comes from their identity provider's groups
(``admin.sso_admin_groups`` / ``admin.sso_viewer_groups``); a person in neither has none.
Audit entries name the actor as :attr:`Actor.name`.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plugins.admin.config import AdminConfig

if TYPE_CHECKING:
    from proxy.context import Principal
    from proxy.gateway import Gateway

ADMIN, VIEWER = "admin", "viewer"


@dataclass(frozen=True, slots=True)
class Actor:
    name: str                  # "admin-token" or "sso:corp:u-1001 (dev@example.com)"
    kind: str                  # admin_token | sso
    role: str                  # admin | viewer

    @property
    def may_change(self) -> bool:
        return self.role == ADMIN


def admin_token(gateway: Gateway) -> str | None:
    token = gateway.settings.section(AdminConfig).token
    value = token.get_secret_value() if token is not None else os.environ.get("RELAYGATE_ADMIN_TOKEN", "")
    return value or None


def enabled(gateway: Gateway) -> bool:
    """The admin API and the console exist: an admin token or SSO roles are configured."""
    cfg = gateway.settings.section(AdminConfig)
    return admin_token(gateway) is not None or bool(cfg.sso_admin_groups or cfg.sso_viewer_groups)


def is_admin_token(gateway: Gateway, presented: str) -> bool:
    expected = admin_token(gateway)
    return bool(expected and presented) and hmac.compare_digest(presented.encode(), expected.encode())  # type: ignore[union-attr]


def token_actor() -> Actor:
    return Actor("admin-token", "admin_token", ADMIN)


def person_actor(gateway: Gateway, principal: Principal) -> Actor | None:
    """The signed-in person's role, or None when their groups give them none."""
    cfg = gateway.settings.section(AdminConfig)
    groups = set(principal.groups)
    role = ADMIN if groups & set(cfg.sso_admin_groups) else VIEWER if groups & set(cfg.sso_viewer_groups) else ""
    if not role:
        return None
    shown = f" ({principal.owner})" if principal.owner and principal.owner != principal.subject else ""
    return Actor(f"{principal.key_id}{shown}", "sso", role)
