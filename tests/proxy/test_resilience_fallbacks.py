"""Retries, fallbacks, the retry budget and circuit breaking, against fake upstreams over real sockets."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import pytest_asyncio
from resilience_helpers import CHAT, post_chat, two_model_config
from support.behavior import Behavior
from support.fake_openai import FakeOpenAI
from support.gateway import metric_value, run_gateway, settings_for

from proxy.config import ConfigError, parse_settings
from proxy.breakers import CLOSED, HALF_OPEN, OPEN, PROBE, REFUSED, CircuitBreaker
from proxy.resilience import backoff_seconds, retry_after_seconds
from proxy.config import CircuitBreakerConfig, RetryConfig


@pytest_asyncio.fixture
async def backup():
    fake = await FakeOpenAI().start()
    try:
        yield fake
    finally:
        await fake.stop()


def gateway_for(tmp_path, primary_url, backup_url=None, **kw):
    return run_gateway(settings_for(two_model_config(primary_url, backup_url, **kw),
                                    ledger_path=str(tmp_path / "ledger.db")))


async def test_a_503_is_retried_on_the_same_model_and_every_attempt_is_a_ledger_row(fake_openai, tmp_path):
    fake_openai.script(Behavior(status=503))
    async with gateway_for(tmp_path, fake_openai.base_url) as gw:
        status, headers, _ = await post_chat(gw.url)
        assert status == 200 and headers["x-relaygate-served-model"] == "primary"
        assert len(fake_openai.requests) == 2
        rows = await gw.ledger_rows()
        assert [(r["attempt"], r["status"], r["error"]) for r in rows] == [(1, 503, "503"), (2, 200, "")]
        assert rows[0]["request_id"] == rows[1]["request_id"] == headers["x-request-id"]
        text = await gw.metrics()
        assert metric_value(text, "relaygate_retries_total", served_model="primary", reason="503") == 1
        assert metric_value(text, "relaygate_fallbacks_total") == 0


@pytest.mark.parametrize("status", [500, 502, 529])
async def test_5xx_falls_back_to_the_next_served_model(fake_openai, backup, tmp_path, status):
    fake_openai.always(Behavior(status=status))
    async with gateway_for(tmp_path, fake_openai.base_url, backup.base_url) as gw:
        status_, headers, body = await post_chat(gw.url)
        assert status_ == 200 and headers["x-relaygate-served-model"] == "backup"
        assert orjson.loads(body)["choices"][0]["message"]["content"]
        assert len(fake_openai.requests) == 2 and len(backup.requests) == 1   # attempts_per_model = 2
        assert backup.last.body["model"] == "gpt-4o" and backup.last.bearer == "sk-upstream-two"
        rows = await gw.ledger_rows()
        assert [(r["attempt"], r["served_model"], r["status"]) for r in rows] == \
            [(1, "primary", status), (2, "primary", status), (3, "backup", 200)]
        text = await gw.metrics()
        assert metric_value(text, "relaygate_fallbacks_total", served_model="primary", reason=str(status)) == 1
        assert metric_value(text, "relaygate_retries_total", served_model="primary") == 2
        assert metric_value(text, "relaygate_requests_total", served_model="backup", status="200") == 1


async def test_connection_refused_falls_back(backup, tmp_path):
    async with gateway_for(tmp_path, "http://127.0.0.1:9/v1", backup.base_url) as gw:
        status, headers, _ = await post_chat(gw.url)
        assert status == 200 and headers["x-relaygate-served-model"] == "backup"
        rows = await gw.ledger_rows()
        assert [r["error"] for r in rows] == ["connect", "connect", ""]


async def test_stall_before_headers_times_out_and_falls_back(fake_openai, backup, tmp_path):
    fake_openai.always(Behavior(stall="headers"))
    async with gateway_for(tmp_path, fake_openai.base_url, backup.base_url, retry={"attempts_per_model": 1},
                           timeouts={"first_byte_seconds": 0.3}) as gw:
        status, headers, _ = await post_chat(gw.url)
        assert status == 200 and headers["x-relaygate-served-model"] == "backup"
        await fake_openai.wait_for_disconnect()              # the stalled attempt was closed
        rows = await gw.ledger_rows()
        assert [(r["status"], r["error"]) for r in rows] == [(504, "timeout"), (200, "")]


async def test_429_with_short_retry_after_is_waited_for_and_retried(fake_openai, tmp_path):
    fake_openai.script(Behavior(status=429, retry_after="0.2"))
    async with gateway_for(tmp_path, fake_openai.base_url) as gw:
        status, _, _ = await post_chat(gw.url)
        assert status == 200
        first, second = fake_openai.requests
        assert second.ts - first.ts >= 0.19                   # Retry-After honoured, not just the backoff


async def test_429_with_long_retry_after_skips_to_the_fallback(fake_openai, backup, tmp_path):
    fake_openai.always(Behavior(status=429, retry_after=120))
    async with gateway_for(tmp_path, fake_openai.base_url, backup.base_url) as gw:
        status, headers, _ = await post_chat(gw.url)
        assert status == 200 and headers["x-relaygate-served-model"] == "backup"
        assert len(fake_openai.requests) == 1                 # not retried on the same model


async def test_everything_failing_relays_the_last_error_after_max_attempts(fake_openai, backup, tmp_path):
    fake_openai.always(Behavior(status=500))
    backup.always(Behavior(status=503, error_message="overloaded"))
    async with gateway_for(tmp_path, fake_openai.base_url, backup.base_url, retry={"max_attempts": 3}) as gw:
        status, headers, body = await post_chat(gw.url)
        assert status == 503 and headers["x-relaygate-served-model"] == "backup"
        assert orjson.loads(body)["error"]["message"] == "overloaded"   # the client's (OpenAI) shape
        assert len(fake_openai.requests) + len(backup.requests) == 3
        assert len(await gw.ledger_rows()) == 3


async def test_client_errors_and_unconfigured_statuses_are_not_retried(fake_openai, tmp_path):
    fake_openai.always(Behavior(status=400))
    async with gateway_for(tmp_path, fake_openai.base_url, retry={"retry_on": ["connect"]}) as gw:
        assert (await post_chat(gw.url))[0] == 400
        fake_openai.always(Behavior(status=503))
        assert (await post_chat(gw.url))[0] == 503            # 5xx not in this endpoint's retry_on
        assert len(fake_openai.requests) == 2


async def test_a_broken_stream_is_never_retried_after_the_first_byte(fake_openai, backup, tmp_path):
    fake_openai.always(Behavior(chunks=6, break_after=2))
    async with gateway_for(tmp_path, fake_openai.base_url, backup.base_url) as gw:
        status, headers, body = await post_chat(gw.url, {**CHAT, "stream": True})
        assert status == 200 and headers["x-relaygate-served-model"] == "primary"
        last = [ln for ln in body.decode().splitlines() if ln.startswith("data:")][-1]
        assert "error" in orjson.loads(last[5:])
        assert len(fake_openai.requests) == 1 and not backup.requests
        rows = await gw.ledger_rows()
        assert [(r["attempt"], r["error"]) for r in rows] == [(1, "protocol")]


async def test_a_stream_that_fails_before_its_first_byte_falls_back(fake_openai, backup, tmp_path):
    fake_openai.always(Behavior(status=500))
    async with gateway_for(tmp_path, fake_openai.base_url, backup.base_url) as gw:
        status, headers, body = await post_chat(gw.url, {**CHAT, "stream": True})
        assert status == 200 and headers["x-relaygate-served-model"] == "backup"
        assert body.rstrip().endswith(b"data: [DONE]")


async def test_the_retry_budget_bounds_retries(fake_openai, tmp_path):
    fake_openai.always(Behavior(status=503))
    server = {"retry_budget_percent": 0, "retry_budget_min_concurrency": 0}
    async with gateway_for(tmp_path, fake_openai.base_url, server=server) as gw:
        assert (await post_chat(gw.url))[0] == 503
        assert len(fake_openai.requests) == 1
        text = await gw.metrics()
        assert metric_value(text, "relaygate_retry_budget_exhausted_total", endpoint="chat") == 1


async def test_the_circuit_opens_fails_fast_and_closes_after_a_successful_probe(fake_openai, tmp_path):
    fake_openai.always(Behavior(status=500))
    breaker = {"consecutive_failures": 2, "cooldown_seconds": 0.4}
    async with gateway_for(tmp_path, fake_openai.base_url, retry={"attempts_per_model": 1},
                           breaker=breaker) as gw:
        assert (await post_chat(gw.url))[0] == 500
        assert (await post_chat(gw.url))[0] == 500
        status, headers, body = await post_chat(gw.url)        # open: no upstream call at all
        assert status == 503 and int(headers["Retry-After"]) >= 1
        assert orjson.loads(body)["error"]["type"] == "server_error"
        assert len(fake_openai.requests) == 2
        text = await gw.metrics()
        assert metric_value(text, "relaygate_circuit_state", endpoint="chat", served_model="primary") == 2
        await asyncio.sleep(0.45)
        fake_openai.always(Behavior())
        assert (await post_chat(gw.url))[0] == 200             # half-open probe succeeds
        text = await gw.metrics()
        assert metric_value(text, "relaygate_circuit_state", endpoint="chat", served_model="primary") == 0


async def test_an_open_circuit_takes_the_model_out_of_the_traffic_split(fake_openai, backup, tmp_path):
    fake_openai.always(Behavior(status=502))
    async with gateway_for(tmp_path, fake_openai.base_url, backup.base_url, retry={"attempts_per_model": 1},
                           breaker={"consecutive_failures": 1, "cooldown_seconds": 30}) as gw:
        assert (await post_chat(gw.url))[1]["x-relaygate-served-model"] == "backup"
        for _ in range(3):
            assert (await post_chat(gw.url))[1]["x-relaygate-served-model"] == "backup"
        assert len(fake_openai.requests) == 1 and len(backup.requests) == 4


def test_served_models_of_one_endpoint_must_share_the_task():
    cfg = two_model_config("http://a/v1", "http://b/v1")
    cfg["endpoints"]["chat"]["served_models"][1]["task"] = "embeddings"
    with pytest.raises(ConfigError, match="task"):
        parse_settings(orjson.dumps(cfg).decode(), "t.yaml", {})
    cfg["endpoints"]["chat"]["served_models"][1]["task"] = "chat"
    parse_settings(orjson.dumps(cfg).decode(), "t.yaml", {})


def test_unknown_retry_condition_is_a_config_error():
    cfg = two_model_config("http://a/v1", retry={"retry_on": ["5xx", "sometimes"]})
    with pytest.raises(ConfigError, match="sometimes"):
        parse_settings(orjson.dumps(cfg).decode(), "t.yaml", {})


def test_backoff_is_full_jitter_and_bounded():
    cfg = RetryConfig(backoff_base_seconds=1, backoff_max_seconds=5)
    assert backoff_seconds(cfg, 1, lambda: 1.0) == 1 and backoff_seconds(cfg, 3, lambda: 1.0) == 4
    assert backoff_seconds(cfg, 10, lambda: 1.0) == 5 and backoff_seconds(cfg, 10, lambda: 0.0) == 0


def test_retry_after_parses_seconds_and_http_dates():
    assert retry_after_seconds({"Retry-After": "3"}) == 3
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after_seconds({"Retry-After": "soon"}) is None and retry_after_seconds({}) is None


def test_breaker_half_open_allows_only_the_configured_probes():
    cfg = CircuitBreakerConfig(consecutive_failures=1, cooldown_seconds=1, half_open_probes=1)
    b = CircuitBreaker()
    b.release(b.acquire(0, cfg), True, 0, cfg)
    assert b.state == OPEN
    assert b.acquire(0.5, cfg) == REFUSED
    assert b.acquire(1.0, cfg) == PROBE and b.state == HALF_OPEN
    assert b.acquire(1.0, cfg) == REFUSED                     # one probe at a time
    b.release(PROBE, True, 1.1, cfg)
    assert b.state == OPEN and not b.available(1.5, cfg)     # a failed probe reopens
    ticket = b.acquire(2.2, cfg)
    assert ticket == PROBE
    b.release(ticket, False, 2.3, cfg)
    assert b.state == CLOSED and b.failures == 0
