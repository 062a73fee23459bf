"""Upstream URLs come from config only: hostile model names, for every provider type, over real sockets.

One gateway (in a background event loop, so hypothesis can drive it from a
plain test) serves a wildcard endpoint per provider type. Each hostile name
goes in the body's ``model`` (all types) and in the native Gemini path
(gemini, vertex); the fake provider must then have received exactly the
configured path and query with the name as one clean segment, or nothing at
all while the client got a 400/404 naming ``model``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.fake_anthropic import FakeAnthropic
from support.fake_gemini import FakeGemini, write_service_account_file
from support.fake_openai import FakeOpenAI
from support.gateway import TEST_KEY, run_gateway, settings_for
from yarl import URL

from proxy.config import ConfigError
from proxy.hygiene import check_upstream_url

EXAMPLES_PER_TYPE = 150
VERTEX_MODELS = "/v1/projects/fake-project/locations/us-central1/publishers/google/models/"
#: what the test itself accepts as a clean path segment (independent of the gateway's grammar)
CLEAN_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
#: provider type -> (endpoint prefix, fake, path the fake must see or None: the model is in the URL)
TYPES = {
    "openai": ("openai/", "openai", "/v1/chat/completions"),
    "openai_compatible": ("compat/", "openai", "/v1/chat/completions"),
    "anthropic": ("anthropic/", "anthropic", "/v1/messages"),
    "azure_openai": ("azure/", "openai", None),
    "gemini": ("gemini/", "gemini", None),
    "vertex": ("vertex/", "gemini", None),
}
HOSTILE_PIECES = ["?", "#", "/", "..", ".", "%", "%3F", "%2F", "%2e%2e", "%00", "\\", " ", "\t", "\n", "\r",
                  "\x00", "\x1f", "\x7f", ":", "@", "&", "=", ";", "+", "key=EVIL", "api-version=evil",
                  "alt=json", ":countTokens", ":generateContent", "?key=EVIL&", "../../v1/x", "\u2028",
                  "\uff1f", "\u0085", "\ufeff", "é", "ⅰ", "x" * 130]  # noqa: RUF001 - a look-alike on purpose
HOSTILE = st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.from_regex(r"[A-Za-z0-9._-]{1,8}", fullmatch=True),
                             st.text(st.characters(exclude_categories=("Cs",)), max_size=3)),
                   min_size=1, max_size=6).map("".join)


class Harness:
    """The gateway and its fakes on an event loop in a thread; :meth:`run` waits for a coroutine."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = AsyncExitStack()
        self.run(self._start())

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    async def _start(self) -> None:
        self.fakes = {"openai": await FakeOpenAI().start(), "anthropic": await FakeAnthropic().start(),
                      "gemini": await FakeGemini().start()}
        for fake in self.fakes.values():
            self.stack.push_async_callback(fake.stop)
        g = self.fakes["gemini"]
        sa = write_service_account_file(f"{self.tmp}/sa.json", g.token_uri)
        providers = {
            "openai": {"type": "openai", "base_url": self.fakes["openai"].base_url, "api_key": "sk-up-1"},
            "compat": {"type": "openai_compatible", "base_url": self.fakes["openai"].base_url},
            "azure": {"type": "azure_openai", "base_url": self.fakes["openai"].root_url, "api_key": "az-key"},
            "anthropic": {"type": "anthropic", "base_url": self.fakes["anthropic"].base_url, "api_key": "ak-1"},
            "gemini": {"type": "gemini", "base_url": g.base_url, "api_key": "gk-1"},
            "vertex": {"type": "vertex", "base_url": g.base_url, "credentials_file": str(sa),
                       "location": "us-central1"},
        }
        endpoints = {f"{name}/*": {"task": "any", "retry": {"max_attempts": 1},
                                   "circuit_breaker": {"enabled": False},
                                   "served_models": [{"name": name, "provider": name, "model": "*"}]}
                     for name in providers}
        cfg = {"providers": providers, "endpoints": endpoints, "keys": [{"name": "k", "key": TEST_KEY}]}
        self.gw = await self.stack.enter_async_context(
            run_gateway(settings_for(cfg, ledger_path=f"{self.tmp}/ledger.db")))
        self.session = await self.stack.enter_async_context(aiohttp.ClientSession())

    def close(self) -> None:
        self.run(self.stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def send(self, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        for fake in self.fakes.values():
            fake.reset()
        async with self.session.post(URL(url, encoded=True), json=body,
                                     headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
            try:
                return r.status, await r.json(content_type=None)
            except ValueError:
                return r.status, None


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    h = Harness(str(tmp_path_factory.mktemp("url-props")))
    try:
        yield h
    finally:
        h.close()


def names_model(status: int, body: dict[str, Any] | None) -> bool:
    """A refusal in the client's shape that names ``model`` (OpenAI's ``param``, Gemini's message)."""
    err = (body or {}).get("error") or {}
    return status in (400, 404) and (err.get("param") == "model" or "model" in str(err.get("message", "")))


def check_outcome(h: Harness, provider_type: str, model: str, status: int, body: dict[str, Any] | None,
                  method: str = "generateContent") -> None:
    _, fake_name, fixed_path = TYPES[provider_type]
    received = [(n, r) for n, f in h.fakes.items() for r in f.requests]
    if not received:
        assert names_model(status, body), (provider_type, model, status, body)
        return
    assert len(received) == 1, (provider_type, model, received)
    name, rec = received[0]
    assert name == fake_name
    if fixed_path is not None:                        # the model travels in the body only
        assert (rec.path, rec.raw_path, rec.query) == (fixed_path, fixed_path, {}), (model, rec.raw_path)
        assert rec.body["model"] == model
        return
    assert CLEAN_SEGMENT.fullmatch(model) and ".." not in model, (provider_type, model, rec.raw_path)
    if provider_type == "azure_openai":
        want_path, want_query = f"/openai/deployments/{model}/chat/completions", {"api-version": "2024-10-21"}
    else:
        prefix = VERTEX_MODELS if provider_type == "vertex" else "/v1beta/models/"
        want_path, want_query = f"{prefix}{model}:{method}", {}
    assert rec.path == want_path and rec.query == want_query, (model, rec.raw_path)
    assert rec.raw_path.partition("?")[0] == want_path, (model, rec.raw_path)   # no escapes, no extra query


@pytest.mark.parametrize("provider_type", list(TYPES))
@settings(max_examples=EXAMPLES_PER_TYPE, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(model=HOSTILE)
@example(model="x?key=EVIL&")
@example(model="x?api-version=evil&")
@example(model="x:generateContent?")
@example(model="../../v1/chat")
@example(model="gemini-2.5-flash")
def test_a_hostile_model_in_the_body_never_steers_the_upstream_url(harness, provider_type, model):
    prefix = TYPES[provider_type][0]
    status, body = harness.run(harness.send(harness.gw.url + "/v1/chat/completions", {
        "model": prefix + model, "messages": [{"role": "user", "content": "hi"}]}))
    check_outcome(harness, provider_type, model, status, body)


@pytest.mark.parametrize("provider_type", ["gemini", "vertex"])
@settings(max_examples=EXAMPLES_PER_TYPE, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(model=HOSTILE, safe=st.sampled_from(["", "/", ":/@", "/:%"]))
@example(model="x:generateContent?", safe="")          # the issue's %3F example
@example(model="x?key=EVIL&", safe="")
def test_a_hostile_model_in_the_gemini_path_never_steers_the_upstream_url(harness, provider_type, model, safe):
    path = quote(TYPES[provider_type][0] + model, safe=safe)
    status, body = harness.run(harness.send(
        f"{harness.gw.url}/gemini/v1beta/models/{path}:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
    received = [r for f in harness.fakes.values() for r in f.requests]
    if received or status != 404 or names_model(status, body):
        check_outcome(harness, provider_type, model, status, body)
    # else: an unroutable path (aiohttp's own 404: the escapes left no ":generateContent") reached nobody


def test_the_issue_examples_reach_nobody(harness):
    h = harness
    url = URL(h.gw.url + "/gemini/v1beta/models/gemini/x:generateContent%3F:countTokens", encoded=True)

    async def native() -> tuple[int, Any]:
        async with h.session.post(url, json={"contents": []}, headers={"x-goog-api-key": TEST_KEY}) as r:
            return r.status, await r.json(content_type=None)

    for fake in h.fakes.values():
        fake.reset()
    status, body = h.run(native())
    assert status == 400 and "model" in body["error"]["message"] and body["error"]["status"] == "INVALID_ARGUMENT"
    for model in ("gemini/x?key=EVIL&", "azure/x?api-version=evil&"):
        status, body = h.run(h.send(h.gw.url + "/v1/chat/completions",
                                    {"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        assert status == 400 and body["error"]["param"] == "model", body
    assert not [r for f in h.fakes.values() for r in f.requests]


def test_a_clean_wildcard_model_goes_through_unescaped(harness):
    # The fake has no Azure routes: it records the request and answers 404; only the URL matters here.
    status, _ = harness.run(harness.send(harness.gw.url + "/v1/chat/completions", {
        "model": "azure/gpt-4o@2024-08", "messages": [{"role": "user", "content": "hi"}]}))
    rec = harness.fakes["openai"].last
    assert status == 404
    assert rec.raw_path == "/openai/deployments/gpt-4o@2024-08/chat/completions?api-version=2024-10-21"


def test_the_upstream_url_check_refuses_undeclared_query_parameters():
    class P:
        name, base_url, query_keys = "p", "http://127.0.0.1:1/v1", frozenset({"alt"})

    check_upstream_url(P(), "http://127.0.0.1:1/v1/models/x:generateContent?alt=sse")   # type: ignore[arg-type]
    for url in ("http://127.0.0.1:1/v1/models/x?key=EVIL&:generateContent",
                "http://127.0.0.1:1/v1/models/x:generateContent?alt=sse&alt=json",
                "http://127.0.0.1:1/v1/models/x y:generateContent",
                "http://127.0.0.1:1/v1/models/x\x00:generateContent",
                "http://127.0.0.1:1/v1/models/x#:generateContent",
                "http://127.0.0.1:1/v1/models/%2e%2e/x:generateContent"):
        with pytest.raises(Exception, match="upstream"):
            check_upstream_url(P(), url)                    # type: ignore[arg-type]


def test_a_configured_model_id_outside_the_grammar_is_a_config_error(tmp_path):
    from proxy.app import make_app

    cfg = {"providers": {"g": {"type": "gemini", "base_url": "http://127.0.0.1:9", "api_key": "k"}},
           "endpoints": {"chat": {"served_models": [{"name": "m", "provider": "g", "model": "x?key=1"}]}}}
    with pytest.raises((ValueError, ConfigError), match=r"endpoints.chat.served_models.0.model"):
        make_app(settings_for(cfg, ledger_path=str(tmp_path / "l.db")))
