"""Which limits and budgets apply to a request, from the ``limits:`` config."""

from __future__ import annotations

import pytest

from plugins.limits.rules import Budget, Rules
from plugins.limits.config import LimitsConfig
from proxy.config import ConfigError, parse_settings
from proxy.context import Principal

ALICE = Principal(key_id="alice-key", owner="alice", team="ml")
BOB = Principal(key_id="ci-bob", owner="bob")


def rules(**data) -> Rules:
    return Rules(LimitsConfig.model_validate(data))


def test_each_scope_and_the_most_specific_rule():
    r = rules(rules=[
        {"scope": "key", "match": "*", "requests_per_minute": 60},
        {"scope": "key", "match": "alice-key", "tokens_per_minute": 1000},     # overrides the default
        {"scope": "owner", "requests_per_minute": 100},
        {"scope": "team", "match": "ml", "tokens_per_minute": 50_000},
        {"scope": "endpoint", "match": "chat", "requests_per_minute": 1000},
        {"scope": "endpoint_key", "match": "chat", "key": "ci-*", "requests_per_minute": 5},
    ])
    plan = r.plan(ALICE, "chat")
    assert [(lim.id, lim.capacity) for lim in plan.requests] == [
        ("owner:alice:requests", 100), ("endpoint:chat:requests", 1000)]
    assert [(lim.id, lim.capacity) for lim in plan.tokens] == [
        ("key:alice-key:tokens", 1000), ("team:ml:tokens", 50_000)]
    bob = r.plan(BOB, "chat")                       # no team: no team limit; ci-* endpoint_key rule
    assert [lim.id for lim in bob.requests] == ["key:ci-bob:requests", "owner:bob:requests",
                                                "endpoint:chat:requests", "endpoint_key:chat:ci-bob:requests"]
    assert bob.requests[-1].describe() == \
        "requests per minute limit of key 'ci-bob' on endpoint 'chat' (5/min)"
    assert not r.plan(BOB, "embed").tokens and r.plan(BOB, "embed") is r.plan(BOB, "embed")   # cached


def test_budgets_per_key_owner_and_team():
    r = rules(budgets=[{"scope": "team", "match": "ml", "usd_per_day": 50, "usd_per_month": 1000},
                       {"scope": "owner", "usd_per_month": 20}])
    plan = r.plan(ALICE, "chat")
    assert plan.budgets == (Budget("owner", "alice", "month", 20), Budget("team", "ml", "day", 50),
                            Budget("team", "ml", "month", 1000))
    assert plan.budgets[1].nano_usd == 50_000_000_000
    assert plan.budgets[1].describe() == "daily budget of team 'ml' ($50.00)"
    day_end = 1_750_032_000                        # 2025-06-16T00:00:00Z
    assert plan.budgets[1].bucket(day_end - 1) == ("team:ml:2025-06-15", day_end)
    assert plan.budgets[2].bucket(day_end - 1) == ("team:ml:2025-06", 1_751_328_000)   # 2025-07-01
    assert rules().empty and not rules().plan(ALICE, "chat")


def test_config_is_validated_with_field_and_line():
    with pytest.raises(ConfigError, match=r"limits.rules.0 \(line 4\): .*requests_per_minute"):
        parse_settings("limits:\n  backend: memory\n  rules:\n    - scope: key\n", env={})
    with pytest.raises(ConfigError, match="backend redis needs redis_url"):
        parse_settings("limits:\n  backend: redis\n", env={})
    s = parse_settings("limits:\n  backend: redis\n  redis_url: ${RELAYGATE_REDIS_URL}\n",
                       env={"RELAYGATE_REDIS_URL": "redis://:secret@127.0.0.1:6379/0"})
    assert s.limits.backend == "redis" and "secret" not in repr(s.limits)
