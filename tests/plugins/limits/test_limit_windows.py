"""The sliding-window log: the same cases against the in-process and the Redis backend."""

from __future__ import annotations

import asyncio

import pytest
from limits_support import FakeClock, drop_backend, make_backend

from plugins.limits.rules import Limit
from plugins.limits.windows import BudgetCharge

RPM3 = Limit("key:k:requests", "requests", 3, "key_requests_per_minute", "key 'k'")
TPM = Limit("key:k:tokens", "tokens", 1000, "key_tokens_per_minute", "key 'k'")
OWNER_RPM1 = Limit("owner:o:requests", "requests", 1, "owner_requests_per_minute", "owner 'o'")

BACKENDS = ["memory", "redis"]


@pytest.fixture(params=BACKENDS)
async def clocked(request):
    clock = FakeClock()
    backend = await make_backend(request.param, clock)
    try:
        yield backend, clock
    finally:
        await drop_backend(backend)


async def test_requests_limit_counts_every_span_of_a_minute(clocked):
    backend, clock = clocked
    assert await backend.acquire("r1", [(RPM3, 1)], []) is None
    assert await backend.acquire("r2", [(RPM3, 1)], []) is None
    clock.advance(30)
    assert await backend.acquire("r3", [(RPM3, 1)], []) is None
    clock.advance(29)                               # t=59: all three still count
    denial = await backend.acquire("r4", [(RPM3, 1)], [])
    assert denial is not None and denial.kind == "limit" and denial.used == 3
    assert denial.retry_after == pytest.approx(1.0)    # r1 and r2 leave at t=60
    clock.advance(1)                                # t=60: entries of t=0 left the window
    assert await backend.acquire("r4", [(RPM3, 1)], []) is None
    assert await backend.acquire("r5", [(RPM3, 1)], []) is None
    denial = await backend.acquire("r6", [(RPM3, 1)], [])
    assert denial is not None and denial.retry_after == pytest.approx(30.0)   # r3 leaves at t=90
    assert await backend.usage(RPM3) == 3


async def test_refusal_charges_no_window(clocked):
    backend, _clock = clocked
    assert await backend.acquire("r1", [(OWNER_RPM1, 1)], []) is None
    denial = await backend.acquire("r2", [(RPM3, 1), (OWNER_RPM1, 1)], [])
    assert denial is not None and denial.index == 1
    assert await backend.usage(RPM3) == 0          # all or nothing


async def test_token_reservation_is_settled_to_real_usage(clocked):
    backend, _clock = clocked
    assert await backend.acquire("a", [(TPM, 800)], []) is None
    denial = await backend.acquire("b", [(TPM, 300)], [])
    assert denial is not None and denial.used == 800
    await backend.settle("a", [(TPM, 800, 120, "a#1")], [])      # refund 680
    assert await backend.usage(TPM) == 120
    assert await backend.acquire("b", [(TPM, 880)], []) is None  # exactly fills the window
    assert await backend.acquire("c", [(TPM, 1)], []) is not None
    await backend.settle("b", [(TPM, 880, 0, "b#1")], [])        # a failed call refunds fully
    assert await backend.usage(TPM) == 120


async def test_settle_above_reservation_charges_the_difference(clocked):
    backend, _clock = clocked
    assert await backend.acquire("a", [(TPM, 100)], []) is None
    await backend.settle("a", [(TPM, 100, 400, "a#1")], [])
    assert await backend.usage(TPM) == 400


async def test_settle_after_the_entry_left_the_window_charges_only_the_excess(clocked):
    backend, clock = clocked
    assert await backend.acquire("long", [(TPM, 500)], []) is None
    clock.advance(70)                               # a long stream: the reservation has expired
    await backend.settle("long", [(TPM, 500, 700, "long#1")], [])
    assert await backend.usage(TPM) == 200
    await backend.settle("x", [(TPM, 500, 100, "x#1")], [])       # under the reservation: nothing
    assert await backend.usage(TPM) == 200


async def test_later_attempt_without_reservation_is_charged_as_new_entry(clocked):
    backend, _clock = clocked
    assert await backend.acquire("r", [(TPM, 300)], []) is None
    await backend.settle("r", [(TPM, 300, 0, "r#1")], [])         # attempt 1 failed
    await backend.settle("r", [(TPM, 0, 250, "r#2")], [])         # fallback attempt used 250
    assert await backend.usage(TPM) == 250


async def test_retry_after_waits_for_enough_old_tokens(clocked):
    backend, clock = clocked
    assert await backend.acquire("a", [(TPM, 400)], []) is None
    clock.advance(10)
    assert await backend.acquire("b", [(TPM, 400)], []) is None
    clock.advance(10)
    denial = await backend.acquire("c", [(TPM, 500)], [])         # needs 300 freed: a suffices
    assert denial is not None and denial.retry_after == pytest.approx(40.0)
    denial = await backend.acquire("c", [(TPM, 900)], [])         # needs 700 freed: a and b
    assert denial is not None and denial.retry_after == pytest.approx(50.0)


async def test_budget_refuses_once_spend_reaches_it(clocked):
    backend, _clock = clocked
    bucket, limit = "team:ml:2025-06-01", 1_000_000_000          # $1
    free = BudgetCharge(bucket, limit, 0, 3600)                   # a request that costs nothing up front
    assert await backend.acquire("a", [], [free]) is None
    await backend.settle("a", [], [(bucket, 600_000_000, 3600)])
    assert await backend.acquire("b", [], [free]) is None
    await backend.settle("b", [], [(bucket, 400_000_000, 3600)])
    assert await backend.spent(bucket) == limit
    denial = await backend.acquire("c", [(RPM3, 1)], [free])
    assert denial is not None and denial.kind == "budget" and denial.used == limit
    assert await backend.usage(RPM3) == 0


@pytest.mark.parametrize("kind", BACKENDS)
async def test_fifty_concurrent_admits_pass_exactly_ten(kind):
    backend = await make_backend(kind, None)        # the real clock, real concurrency
    limit = Limit("key:burst:requests", "requests", 10, "key_requests_per_minute", "key 'burst'")
    tokens = Limit("key:burst:tokens", "tokens", 10_000, "key_tokens_per_minute", "key 'burst'")
    try:
        results = await asyncio.gather(*(backend.acquire(f"r{i}", [(limit, 1), (tokens, 7)], [])
                                         for i in range(50)))
        assert sum(r is None for r in results) == 10
        assert await backend.usage(limit) == 10
        assert await backend.usage(tokens) == 70    # refused requests reserved nothing
    finally:
        await drop_backend(backend)


async def test_redis_keys_are_namespaced_and_expire():
    backend = await make_backend("redis", None)
    try:
        await backend.acquire("r1", [(TPM, 5)], [BudgetCharge("key:k:2025-06", 10, 9, 120)])
        await backend.acquire("r2", [], [BudgetCharge("key:k:2025-06", 10, 1, 60)])    # a shorter hold
        await backend.settle("r1", [(TPM, 5, 3, "r1#1")], [("key:k:2025-06", 7, 3600)],
                             [("key:k:2025-06", 7)], release=True)
        keys = [k async for k in backend.redis.scan_iter(match=backend.prefix + "*")]
        assert sorted(keys) == sorted([backend.prefix + "w:key:k:tokens", backend.prefix + "w:key:k:tokens:a",
                                       backend.prefix + "b:key:k:2025-06", backend.prefix + "b:key:k:2025-06:h",
                                       backend.prefix + "b:key:k:2025-06:hz"])
        for k in keys:
            ttl = await backend.redis.pttl(k)
            limit = 61_000 if ":w:" in k else 121_000 if k.endswith(("h", "hz")) else 3_600_000
            assert 0 < ttl <= limit
            if k.endswith(("h", "hz")):
                assert ttl > 61_000                          # r2's shorter hold did not cut r1's
        assert await backend.held("key:k:2025-06") == 1
    finally:
        await drop_backend(backend)


# -- budget holds ---------------------------------------------------------------------

BUCKET = "team:ml:2025-06-01"
DOLLAR = 1_000_000_000


async def test_a_budget_holds_the_worst_case_of_requests_in_flight(clocked):
    backend, clock = clocked
    cent3 = BudgetCharge(BUCKET, 3 * DOLLAR // 100, DOLLAR // 100, 600)     # $0.03 budget, $0.01 each
    assert [await backend.acquire(f"r{i}", [], [cent3]) is None for i in range(4)] == [True, True, True, False]
    denial = await backend.acquire("r9", [(RPM3, 1)], [cent3])
    assert denial is not None and denial.kind == "budget" and (denial.used, denial.held) == (0, 3 * DOLLAR // 100)
    assert await backend.usage(RPM3) == 0                          # a refusal reserves nothing anywhere
    # r0 succeeds at $0.004: spend added, its whole hold given back
    await backend.settle("r0", [], [(BUCKET, 4 * DOLLAR // 1000, 3600)], [(BUCKET, 4 * DOLLAR // 1000)], release=True)
    assert (await backend.spent(BUCKET), await backend.held(BUCKET)) == (4 * DOLLAR // 1000, 2 * DOLLAR // 100)
    # r1 fails after spending $0.002 and may be retried: its hold only shrinks
    await backend.settle("r1", [], [(BUCKET, 2 * DOLLAR // 1000, 3600)], [(BUCKET, 2 * DOLLAR // 1000)])
    assert await backend.held(BUCKET) == 18 * DOLLAR // 1000
    await backend.settle("r1", [], [], [(BUCKET, 0)], release=True)                     # the request ended
    assert await backend.held(BUCKET) == DOLLAR // 100
    assert await backend.acquire("r4", [], [cent3]) is None         # 0.006 spent + 0.01 held + 0.01 fits
    # holds of a replica that died lapse after hold_s
    clock.advance(601)
    assert await backend.held(BUCKET) == 0
    assert await backend.acquire("r5", [], [BudgetCharge(BUCKET, 3 * DOLLAR // 100, 24 * DOLLAR // 1000, 600)]) is None
    denial = await backend.acquire("r6", [], [BudgetCharge(BUCKET, 3 * DOLLAR // 100, 1, 600)])
    assert denial is not None and denial.held == 24 * DOLLAR // 1000


@pytest.mark.parametrize("kind", BACKENDS)
async def test_concurrent_admits_never_hold_more_than_the_budget(kind):
    backend = await make_backend(kind, None)
    try:
        charge = BudgetCharge(BUCKET, 10 * DOLLAR, DOLLAR, 600)
        results = await asyncio.gather(*(backend.acquire(f"r{i}", [], [charge]) for i in range(100)))
        assert sum(r is None for r in results) == 10
        assert await backend.held(BUCKET) == 10 * DOLLAR
    finally:
        await drop_backend(backend)
