"""``console:`` the web console under /console (declared by plugins.console.routes)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from proxy.config import ConfigModel


class ConsoleConfig(ConfigModel):
    enabled: bool = True               # still needs admin.token or admin.sso_*_groups to exist
    #: the path the console is reached under from outside (a reverse proxy's prefix, e.g. "/gw");
    #: None: the request's X-Forwarded-Prefix, when the proxy sends one
    base_path: str | None = Field(None, pattern=r"^(/[A-Za-z0-9._~-]+)*$")
    #: signs session cookies; give one shared by every replica. None: derived from admin.token
    session_secret: SecretStr | None = None
    session_minutes: int = Field(480, ge=5, le=7 * 24 * 60)
    #: the issuer (auth.jwt ``name``) whose sign-in the console offers; None: the first one
    sso_issuer: str | None = None
