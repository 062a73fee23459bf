"""``storage.ledger:`` (declared by plugins.metering.ledger; the key store and the Responses
store follow its backend and place unless told otherwise)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from proxy.config import ConfigModel


class LedgerConfig(ConfigModel):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "relaygate-ledger.db"
    postgres_dsn: SecretStr | None = None
    flush_interval_seconds: float = Field(0.5, gt=0)
    batch_size: int = Field(500, ge=1)
    retention_days: int | None = Field(None, ge=1)
    postgres_schema: str = Field("public", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    spool_dir: str | None = None          # batches the store could not take wait here; None: "<path>.spool"
    spool_retry_seconds: float = Field(5, gt=0, description="pause after a failed write before trying again")
    max_pending_rows: int = Field(100_000, ge=1, description="more rows in memory spill to the spool")
    write_timeout_seconds: float = Field(10, gt=0)
    #: a write-ahead line per attempt in "<path>.journal/": attempts in flight when the process
    #: was killed get a ledger row (outcome incomplete) on the next start
    journal: bool = True

    @model_validator(mode="after")
    def _dsn(self) -> LedgerConfig:
        if self.backend == "postgres" and self.postgres_dsn is None:
            raise ValueError("backend postgres needs postgres_dsn (e.g. ${RELAYGATE_LEDGER_DSN})")
        return self
