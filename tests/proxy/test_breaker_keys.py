"""Circuit breakers keyed by what failed (provider + provider model), counting only provider failures, and
never refusing everything: when every candidate is open a bounded fraction still goes through."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from support.behavior import Behavior
from support.gateway import metric_value, run_gateway, settings_for

from proxy import resilience
from proxy.breakers import MAX_KEYS, PASS, Breakers
from proxy.config import CircuitBreakerConfig

ALICE, BOB = "rg-alice-key-0123456789", "rg-bob-key-0123456789"
MESSAGES = [{"role": "user", "content": "hi"}]


def wildcard_config(base_url: str, breaker: dict[str, Any] | None = None,
                    retry: dict[str, Any] | None = None) -> dict[str, Any]:
    """The zero-config shape: one ``openai/*`` endpoint, one served model for every provider model."""
    return {"providers": {"openai": {"type": "openai", "base_url": base_url, "api_key": "sk-up"}},
            "endpoints": {"openai/*": {"task": "any",
                                       "served_models": [{"name": "openai", "provider": "openai", "model": "*"}],
                                       "retry": {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.02,
                                                 **(retry or {})},
                                       "circuit_breaker": {"consecutive_failures": 3, "cooldown_seconds": 30,
                                                           **(breaker or {})}}},
            "keys": [{"name": "alice", "key": ALICE, "owner": "alice"}, {"name": "bob", "key": BOB, "owner": "bob"}]}


async def chat(s: aiohttp.ClientSession, url: str, key: str, model: str, **extra: Any) -> tuple[int, Any, bytes]:
    async with s.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                      json={"model": model, "messages": MESSAGES, **extra}) as r:
        return r.status, r.headers.copy(), await r.read()


def stream_complete(body: bytes) -> bool:
    events = [ln[5:].strip() for ln in body.decode().splitlines() if ln.startswith("data:")]
    return bool(events) and events[-1] == "[DONE]" and not any(b'"error"' in e.encode() for e in events)


async def test_one_callers_failing_model_leaves_every_other_model_of_a_wildcard_alone(fake_openai, tmp_path):
    fake_openai.always(Behavior(chunks=5, chunk_delay=0.02))
    fake_openai.script(Behavior(status=500, times=None, match_body='"model":"bad-model"'))
    cfg = wildcard_config(fake_openai.base_url, breaker={"panic_one_in": 5})
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s:
            # Alice's model fails until its circuit is open.
            first = [await chat(s, gw.url, ALICE, "openai/bad-model") for _ in range(2)]
            assert [st for st, _, _ in first] == [500, 500]

            async def alice() -> list[int]:
                out = []
                for _ in range(30):
                    out.append((await chat(s, gw.url, ALICE, "openai/bad-model"))[0])
                    await asyncio.sleep(0.005)
                return out

            async def bob_streams() -> list[tuple[int, Any, bytes]]:
                return await asyncio.gather(*(chat(s, gw.url, BOB, "openai/gpt-4o-mini", stream=True)
                                              for _ in range(20)))

            async def bob_calls() -> list[int]:
                return [(await chat(s, gw.url, BOB, "openai/gpt-4o"))[0] for _ in range(10)]

            alice_statuses, streams, calls = await asyncio.gather(alice(), bob_streams(), bob_calls())
        # Bob never noticed: every stream complete, every call answered.
        assert [st for st, _, _ in streams] == [200] * 20
        assert all(stream_complete(body) for _, _, body in streams)
        assert calls == [200] * 10
        # Alice's model: refused fast while open, yet a bounded few still reach the provider.
        assert set(alice_statuses) <= {500, 503} and alice_statuses.count(503) >= 20
        bad = [r for r in fake_openai.requests if r.body["model"] == "bad-model"]
        assert 3 + 1 <= len(bad) <= 3 + 30 // 5 + 1
        text = await gw.metrics()
        assert metric_value(text, "relaygate_circuit_state", endpoint="openai/*", served_model="openai") == 2


async def test_a_poisoned_request_interleaved_with_healthy_ones_never_opens_the_circuit(fake_openai, tmp_path):
    # The same model: one caller's body makes the provider fail, the other's does not.
    fake_openai.script(Behavior(status=500, times=None, match_body="POISON",
                                error_type="invalid_request_error", error_message="Invalid request: POISON"))
    cfg = wildcard_config(fake_openai.base_url, retry={"attempts_per_model": 1})
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s:
            for _ in range(10):
                poisoned = await chat(s, gw.url, ALICE, "openai/gpt-4o",
                                      messages=[{"role": "user", "content": "POISON"}])
                healthy = await chat(s, gw.url, BOB, "openai/gpt-4o")
                assert (poisoned[0], healthy[0]) == (500, 200)
        assert resilience.of(gw.gateway).breakers.get(
            SimpleNamespace(provider=SimpleNamespace(name="openai"), upstream_model="gpt-4o")) is None


async def test_when_every_candidate_is_open_one_in_n_still_goes_and_a_success_closes_it(fake_openai, tmp_path):
    fake_openai.always(Behavior(status=503))
    cfg = wildcard_config(fake_openai.base_url, breaker={"consecutive_failures": 2, "panic_one_in": 4},
                          retry={"attempts_per_model": 1})
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s:
            assert [(await chat(s, gw.url, ALICE, "openai/m"))[0] for _ in range(2)] == [503, 503]
            assert len(fake_openai.requests) == 2                    # now open
            statuses = [(await chat(s, gw.url, ALICE, "openai/m")) for _ in range(12)]
            assert len(fake_openai.requests) == 2 + 3                # every 4th still went
            refused = [h for st, h, b in statuses if b"every served model" in b]
            assert len(refused) == 9 and all(int(h["Retry-After"]) >= 1 for h in refused)
            fake_openai.always(Behavior())                           # the provider recovers, long before cooldown
            after = [(await chat(s, gw.url, ALICE, "openai/m"))[0] for _ in range(8)]
            assert after[:4].count(200) == 1 and after[after.index(200):] == [200] * (8 - after.index(200))


async def test_panic_one_in_zero_refuses_everything_while_open(fake_openai, tmp_path):
    fake_openai.always(Behavior(status=503))
    cfg = wildcard_config(fake_openai.base_url, breaker={"consecutive_failures": 1, "panic_one_in": 0},
                          retry={"attempts_per_model": 1})
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s:
            statuses = [(await chat(s, gw.url, ALICE, "openai/m"))[0] for _ in range(10)]
    assert statuses == [503] * 10 and len(fake_openai.requests) == 1


@pytest.mark.parametrize("behavior, opens", [
    (Behavior(status=400), False), (Behavior(status=404), False), (Behavior(status=422), False),
    (Behavior(status=429), False),
    (Behavior(status=302, raw=b"", headers={"Location": "http://127.0.0.1:9/"}), False),
    (Behavior(status=500), True), (Behavior(status=529), True),
    (Behavior(status=500, error_type="invalid_request_error", error_message="The request is invalid"), True),
    (Behavior(malformed=True), True),
])
async def test_only_provider_failures_count(fake_openai, tmp_path, behavior, opens):
    behavior.times = None
    fake_openai.always(behavior)
    cfg = wildcard_config(fake_openai.base_url, breaker={"consecutive_failures": 2, "panic_one_in": 0},
                          retry={"attempts_per_model": 1, "retry_on": ["connect"]})
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession() as s:
            for _ in range(6):
                await chat(s, gw.url, ALICE, "openai/m")
    assert len(fake_openai.requests) == (2 if opens else 6)


def route(model: str, cfg: CircuitBreakerConfig) -> Any:
    return SimpleNamespace(provider=SimpleNamespace(name="p"), upstream_model=model,
                           endpoint=SimpleNamespace(name="e/*", circuit_breaker=cfg), served=SimpleNamespace(name="s"))


def test_healthy_keys_allocate_nothing_and_the_table_is_bounded():
    cfg = CircuitBreakerConfig(consecutive_failures=1)
    breakers, states = Breakers(), []
    breakers.listeners.append(lambda *args: states.append(args))
    for i in range(1000):                                  # client-chosen names that all work
        r = route(f"m{i}", cfg)
        breakers.release(r, breakers.acquire(r, 0), False, 0)
    assert len(breakers) == 0
    for i in range(MAX_KEYS + 50):                         # ... and ones that all fail
        r = route(f"bad{i}", cfg)
        assert breakers.acquire(r, 0) == PASS
        breakers.release(r, PASS, True, 0)
    assert len(breakers) == MAX_KEYS
    assert states[0] == ("e/*", "s", "p", 2) and len(states) == 1     # the label set's worst state, once


def test_a_served_models_state_is_the_worst_of_its_provider_models():
    cfg = CircuitBreakerConfig(consecutive_failures=1, cooldown_seconds=1)
    breakers, states = Breakers(), []
    breakers.listeners.append(lambda *args: states.append(args[-1]))
    a, b = route("a", cfg), route("b", cfg)
    breakers.release(a, PASS, True, 0)
    breakers.release(b, PASS, True, 0)
    assert states == [2]
    breakers.release(a, breakers.acquire(a, 2), False, 2)   # a heals; b is still open
    assert states == [2]
    breakers.release(b, breakers.acquire(b, 2), False, 2)   # b: half-open (its probe), then closed
    assert states == [2, 1, 0]
