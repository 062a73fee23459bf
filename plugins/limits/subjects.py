"""Rules that name a key which does not exist: warnings for ``check-config`` and the admin API.

A rule's ``match`` (and an ``endpoint_key`` rule's ``key``) may name a key by its name or
its id, config keys and stored keys alike. A plain name that no key has is not an error
(the key may be created later), but until then the rule limits nobody, which is worth
saying. Globs are not checked: ``ci-*`` matching nothing yet is normal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from plugins.keystore.store import keys_path, make_key_store
from plugins.limits.config import LimitsConfig
from plugins.limits.rules import is_glob
from proxy import hookimpl

if TYPE_CHECKING:
    from proxy.config import Settings

log = logging.getLogger("relaygate.limits")
STORE_TIMEOUT_S = 5.0


def named_keys(config: LimitsConfig) -> Iterator[tuple[str, str]]:
    """(where, key name) of every rule and budget that names one key exactly."""
    for i, rule in enumerate(config.rules):
        if rule.scope == "key" and not is_glob(rule.match):
            yield f"limits.rules[{i}].match", rule.match
        elif rule.scope == "endpoint_key" and not is_glob(rule.key):
            yield f"limits.rules[{i}].key", rule.key
    for i, budget in enumerate(config.budgets):
        if budget.scope == "key" and not is_glob(budget.match):
            yield f"limits.budgets[{i}].match", budget.match


def unknown_key_warnings(config: LimitsConfig, known: Iterable[str]) -> list[str]:
    """One sentence per rule naming a key that is neither the name nor the id of a known key."""
    names = set(known)
    return [f"{where} names key {name!r}, which no key has as its name or id: the rule applies to "
            "nobody until such a key is created" for where, name in named_keys(config) if name not in names]


def config_key_names(settings: Settings) -> set[str]:
    return {k.name for k in settings.keys}


async def stored_key_names(settings: Settings) -> set[str] | None:
    """Names and ids of the stored keys; None when the store cannot be read (a warning says so)."""
    from plugins.keystore.config import KeyStoreConfig
    from plugins.metering.config import LedgerConfig

    backend = settings.section(KeyStoreConfig).backend or settings.section(LedgerConfig).backend
    if backend != "postgres":
        path = keys_path(settings)
        if path == ":memory:" or not Path(path).exists():
            return set()                 # no key file yet: nothing stored, and check-config creates none
    try:
        store = make_key_store(settings)
    except ValueError as exc:
        log.debug("no key store for config warnings: %s", exc)
        return None
    try:
        async with asyncio.timeout(STORE_TIMEOUT_S):
            await store.open()
            records = await store.list()
    except Exception as exc:             # unreachable, or not a key store at all
        log.debug("key store unreadable for config warnings: %s", exc)
        return None
    finally:
        await store.close()
    return {r.name for r in records} | {r.id for r in records}


@hookimpl
async def relaygate_config_warnings(settings: Settings) -> list[str]:
    config = settings.section(LimitsConfig)
    if not any(True for _ in named_keys(config)):
        return []
    stored = await stored_key_names(settings)
    warnings = unknown_key_warnings(config, config_key_names(settings) | (stored or set()))
    if stored is None and warnings:
        warnings.append("the key store could not be read, so stored keys were not considered "
                        "for the warnings above")
    return warnings
