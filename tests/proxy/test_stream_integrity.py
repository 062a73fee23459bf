"""Nothing silently broken: every client stream ends in its terminator or ONE terminal error event.

Cut and malformed provider streams on every client surface (unified chat, OpenAI
Responses, Anthropic, Gemini SSE and JSON array), passthrough and translated,
over real sockets against the fake providers; the ledger row says how it ended.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from stream_surfaces import (ENDPOINTS, assert_completed, assert_one_terminal_error, stream_request,
                             surfaces_config)
from support.behavior import Behavior
from support.gateway import run_gateway, settings_for

#: (client surface, endpoint): the first of each pair is passthrough, the second translated
ROUTES = [
    ("chat", "m-openai"), ("chat", "m-anthropic"),
    ("responses", "m-openai"), ("responses", "m-gemini"),
    ("anthropic", "m-anthropic"), ("anthropic", "m-openai"),
    ("gemini_sse", "m-gemini"), ("gemini_sse", "m-anthropic"),
    ("gemini_array", "m-gemini"), ("gemini_array", "m-openai"),
]
FAULTS = {
    # the provider ends its body cleanly but without its terminator (formerly a clean end for the client)
    "cut": (Behavior(chunks=4, break_after=2, break_clean=True), "upstream_truncated"),
    # the connection breaks mid-body
    "broken": (Behavior(chunks=4, break_after=2), "upstream_truncated"),
    # a data line that is not JSON (formerly relayed as is, then [DONE])
    "malformed": (Behavior(chunks=4, malformed=True, malformed_at=2), "malformed"),
}


@asynccontextmanager
async def gateway(fakes, tmp_path, server=None):
    settings = settings_for(surfaces_config(fakes, server), ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as gw:
        yield gw


@pytest.fixture
def fakes(fake_openai, fake_anthropic, fake_gemini):
    return {"openai": fake_openai, "anthropic": fake_anthropic, "gemini": fake_gemini}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize(("surface", "endpoint"), ROUTES, ids=[f"{s}-{e}" for s, e in ROUTES])
async def test_a_faulty_provider_stream_ends_with_exactly_one_terminal_error(fakes, tmp_path, surface, endpoint,
                                                                            fault):
    behavior, outcome = FAULTS[fault]
    fakes[ENDPOINTS[endpoint]].script(behavior)
    async with gateway(fakes, tmp_path) as gw:
        status, body = await stream_request(gw.url, surface, endpoint)
        assert status == 200
        assert_one_terminal_error(surface, body)
        assert b"broken" not in body                  # the malformed event itself never reaches the client
        (row,) = await gw.ledger_rows()
        assert (row["outcome"], row["status"], row["error"]) == (outcome, 502, "protocol")
        assert row["input_tokens"] > 0


@pytest.mark.parametrize(("surface", "endpoint"), ROUTES, ids=[f"{s}-{e}" for s, e in ROUTES])
async def test_a_complete_provider_stream_ends_with_its_terminator(fakes, tmp_path, surface, endpoint):
    async with gateway(fakes, tmp_path) as gw:
        status, body = await stream_request(gw.url, surface, endpoint)
        assert status == 200
        assert_completed(surface, body)
        (row,) = await gw.ledger_rows()
        assert (row["outcome"], row["status"], row["error"]) == ("complete", 200, "")


@pytest.mark.parametrize(("surface", "endpoint"), [("chat", "m-openai"), ("anthropic", "m-openai"),
                                                   ("gemini_array", "m-gemini")])
async def test_an_event_over_max_stream_event_bytes_ends_the_stream(fakes, tmp_path, surface, endpoint):
    fakes[ENDPOINTS[endpoint]].script(Behavior(chunks=2, text="x" * 6000))       # two 3000-byte deltas
    async with gateway(fakes, tmp_path, {"max_stream_event_bytes": 2048}) as gw:
        status, body = await stream_request(gw.url, surface, endpoint)
        error = assert_one_terminal_error(surface, body)
        assert "max_stream_event_bytes" in body.decode() and error
        (row,) = await gw.ledger_rows()
        assert row["outcome"] == "malformed"


async def test_the_providers_own_error_event_is_the_one_terminal_error(fakes, tmp_path):
    fakes["anthropic"].script(Behavior(chunks=4, stream_error_after=3))
    async with gateway(fakes, tmp_path) as gw:
        status, body = await stream_request(gw.url, "anthropic", "m-anthropic")
        error = assert_one_terminal_error("anthropic", body)
        assert error.data["error"]["type"] == "overloaded_error"        # relayed, no second error added
        (row,) = await gw.ledger_rows()
        assert (row["outcome"], row["error"]) == ("error", "upstream_stream_error")


async def test_a_stalled_stream_is_recorded_as_stalled(fakes, tmp_path):
    fakes["openai"].script(Behavior(chunks=6, stall="stream", stall_after=2))
    settings = settings_for(surfaces_config(fakes, timeouts={"idle_seconds": 0.3}),
                            ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as gw:
        status, body = await stream_request(gw.url, "chat", "m-openai")
        assert "idle timeout" in str(assert_one_terminal_error("chat", body).data)
        (row,) = await gw.ledger_rows()
        assert (row["outcome"], row["status"], row["error"]) == ("stalled", 504, "timeout")
