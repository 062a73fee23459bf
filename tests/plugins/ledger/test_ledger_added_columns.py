"""A ledger written by an older release gains the added columns on open, and old spooled rows still land."""

from __future__ import annotations

import sqlite3

from plugins.metering.sqlite_store import COLUMNS, SCHEMA, SqliteStore


def old_schema() -> str:
    """The schema as the first release wrote it: without outcome, labels and trace_id."""
    return (SCHEMA.replace("    outcome TEXT NOT NULL DEFAULT '',\n", "")
                  .replace("    labels TEXT NOT NULL DEFAULT '',\n", "")
                  .replace("    trace_id TEXT NOT NULL DEFAULT '',\n", ""))


def row(request_id: str, width: int) -> tuple:
    base = (request_id, 1, 1.0, "k", "o", "t", "ep", "sm", "p", "pm", "unified", 200, "", 0, 0,
            10, 5, 0, 0, 0, 15, 1.0, None, 1.0, 0.001, "", "", "complete", '{"tenant":"acme"}',
            "4bf92f3577b34da6a3ce929d0e0e4736", 0, 0, None, "catalogue", "genai-prices 0.2.3")
    return base[:width]


async def test_an_older_ledger_is_migrated_and_old_rows_get_defaults(tmp_path) -> None:
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)
    assert "outcome" not in old_schema()
    db.executescript(old_schema())
    db.close()
    store = SqliteStore(path)
    await store.open()
    try:
        await store.write([row("req_new", len(COLUMNS)), row("req_spooled_by_old", COLUMNS.index("outcome")),
                           row("req_before_tracing", COLUMNS.index("trace_id"))])
        got = {r["request_id"]: r
               for r in await store.query("SELECT request_id, outcome, labels, trace_id FROM ledger")}
    finally:
        await store.close()
    assert got["req_new"]["outcome"] == "complete" and got["req_new"]["labels"] == '{"tenant":"acme"}'
    assert got["req_new"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert got["req_spooled_by_old"]["outcome"] == "" and got["req_spooled_by_old"]["labels"] == ""
    assert got["req_before_tracing"]["labels"] == '{"tenant":"acme"}'
    assert got["req_before_tracing"]["trace_id"] == ""


async def test_rows_spooled_before_cache_columns_get_numeric_defaults(tmp_path) -> None:
    store = SqliteStore(str(tmp_path / "l.db"))
    await store.open()
    try:
        await store.write([row("req_old", COLUMNS.index("cache_creation_1h_tokens")), row("req_new", len(COLUMNS))])
        got = {r["request_id"]: r for r in await store.query(
            "SELECT request_id, cache_creation_1h_tokens, cache_hit, saved_cost_usd, price_source FROM ledger")}
    finally:
        await store.close()
    assert (got["req_old"]["cache_creation_1h_tokens"], got["req_old"]["cache_hit"]) == (0, 0)
    assert got["req_old"]["saved_cost_usd"] is None and got["req_old"]["price_source"] == ""
    assert got["req_new"]["price_source"] == "catalogue"


async def test_an_older_ledger_takes_unknown_costs_and_keeps_its_rows_and_indexes(tmp_path) -> None:
    """Older ledgers declared cost_usd NOT NULL DEFAULT 0; a model without a price is NULL now."""
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)
    db.executescript(SCHEMA.replace("    cost_usd REAL,\n", "    cost_usd REAL NOT NULL DEFAULT 0,\n"))
    db.execute(f"INSERT INTO ledger ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
               row("req_old", len(COLUMNS)))
    db.commit()
    db.close()
    store = SqliteStore(path)
    await store.open()
    try:
        await store.write([row("req_unpriced", COLUMNS.index("cost_usd")) + (None, "", "", "complete", "", "")])
        got = {r["request_id"]: r["cost_usd"] for r in await store.query("SELECT request_id, cost_usd FROM ledger")}
        indexes = {r["name"] for r in await store.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        await store.close()
    assert got == {"req_old": 0.001, "req_unpriced": None}
    assert {"ledger_ts", "ledger_key_ts", "ledger_owner_ts", "ledger_endpoint_ts"} <= indexes
    await SqliteStore(path).open()          # migrated once: opening again changes nothing
