"""``storage.keys:`` (declared by plugins.keystore.auth)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from proxy.config import ConfigModel


class KeyStoreConfig(ConfigModel):
    """Gateway keys created with the admin API or ``relaygate keys``; unset fields follow the ledger."""

    backend: Literal["sqlite", "postgres"] | None = None     # None: the ledger's backend
    path: str | None = None               # SQLite file; None: next to the ledger (<ledger>.keys.db)
    postgres_dsn: SecretStr | None = None  # None: the ledger's DSN
    postgres_schema: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")  # None: the ledger's
    refresh_seconds: float = Field(2.0, gt=0)   # how soon a change on another replica takes effect
