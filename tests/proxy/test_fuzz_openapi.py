"""Property-based fuzzing of every surface x provider route, from the gateway's own /openapi.json.

Schemathesis (pinned in the test extra) turns each operation of the document the
gateway serves into a Hypothesis strategy of requests: positive ones (bodies that
fit the documented shape) and negative ones (wrong types, out-of-range numbers,
missing fields, bodies that are not JSON at all). Every request goes over real HTTP
to a gateway whose endpoints are served by fake OpenAI, OpenAI-compatible,
Anthropic and Gemini providers. Two properties must hold for every answer:

- no 5xx made by the gateway itself (a provider's own 5xx, relayed, carries
  ``x-relaygate-served-model`` and is not an internal error);
- every non-2xx answer is JSON in the error shape of the surface the client called.

Seeded and derandomized, so CI sees the same requests each run.
``RELAYGATE_FUZZ_EXAMPLES=N`` (default 24 per operation, drawn across providers and
 both modes) runs
a bigger search; the totals are printed at the end (``-s``) and written to
``$RELAYGATE_FUZZ_REPORT`` when set.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from plugins import openapi
from proxy.app import GATEWAY, make_app
from proxy.shapes import check
from proxy.errors import RequestRejected
from support.fake_anthropic import FakeAnthropic
from support.fake_gemini import FakeGemini
from support.fake_openai import FakeOpenAI
from support.gateway import TEST_KEY, run_gateway, settings_for

EXAMPLES = int(os.environ.get("RELAYGATE_FUZZ_EXAMPLES", "24"))
PROVIDERS = ("openai", "compatible", "anthropic", "gemini")
STATS: Counter[str] = Counter()


def _config(fakes: dict[str, Any]) -> dict[str, Any]:
    providers = {
        "openai": {"type": "openai", "base_url": fakes["openai"].base_url, "api_key": "sk-up"},
        "compatible": {"type": "openai_compatible", "base_url": fakes["openai"].base_url, "api_key": "sk-up"},
        "anthropic": {"type": "anthropic", "base_url": fakes["anthropic"].base_url, "api_key": "sk-ant-up"},
        "gemini": {"type": "gemini", "base_url": fakes["gemini"].base_url, "api_key": "g-up"},
    }
    models = {"openai": "gpt-4o-mini", "compatible": "gpt-4o-mini", "anthropic": "claude-sonnet-4-6",
              "gemini": "gemini-2.5-flash"}
    return {
        "providers": providers,
        "endpoints": {f"m-{p}": {"task": "any", "served_models": [{"name": p, "provider": p, "model": models[p]}]}
                      for p in PROVIDERS},
        "keys": [{"name": "k", "key": TEST_KEY, "owner": "fuzz"}],
    }


class Background:
    """Fakes and a gateway on their own event loop, in a thread: Schemathesis calls are blocking."""

    def __init__(self, ledger: str) -> None:
        self.ledger = ledger
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.url = ""
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        fakes = {"openai": await FakeOpenAI().start(), "anthropic": await FakeAnthropic().start(),
                 "gemini": await FakeGemini().start()}
        try:
            async with run_gateway(settings_for(_config(fakes), ledger_path=self.ledger)) as gw:
                self.url = gw.url
                self.ready.set()
                await self._stop.wait()
        finally:
            for f in fakes.values():
                await f.stop()

    def __enter__(self) -> Background:
        self.thread.start()
        assert self.ready.wait(30), "the gateway did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(30)


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with Background(str(tmp_path_factory.mktemp("fuzz") / "ledger.db")) as bg:
        yield bg.url
    _report()


def _document() -> dict[str, Any]:
    """The operations, known at collection from the document an app with this config serves
    (test_openapi_document.py checks /openapi.json answers exactly this)."""
    import tempfile

    fakes = {name: type("Fake", (), {"base_url": "http://127.0.0.1:9"})() for name in ("openai", "anthropic", "gemini")}
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(settings_for(_config(fakes), ledger_path=os.path.join(tmp, "ledger.db")))
        return openapi.document(app[GATEWAY])


def _bounded(schema: Any) -> Any:
    """The fuzz's copy of a schema: arrays of at most 3 items and no invented keys in positive
    bodies. Generation time, not coverage: deep random bodies cost seconds each to draw."""
    if isinstance(schema, list):
        return [_bounded(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _bounded(v) for k, v in schema.items()}
    kinds = out.get("type")
    if kinds == "array" or (isinstance(kinds, list) and "array" in kinds):
        out["maxItems"] = min(out.get("maxItems", 3), 3)
    if kinds == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


DOCUMENT = _document()
SCHEMA = schemathesis.openapi.from_dict(_bounded(DOCUMENT))
OPERATIONS = [r.ok() for r in SCHEMA.get_all_operations()]


def _error_schema(path: str, method: str) -> dict[str, Any]:
    return DOCUMENT["paths"][path][method]["responses"]["4XX"]["content"]["application/json"]["schema"]


def _strategy(op: Any) -> st.SearchStrategy[tuple[str, Any]]:
    """(provider, case): every provider, positive and negative requests, drawn in turn."""
    def cases(provider: str) -> st.SearchStrategy[tuple[str, Any]]:
        endpoint = f"m-{provider}"
        path_params = {name: endpoint for name in ("endpoint", "name") if "{" + name + "}" in op.path}
        return st.tuples(st.just(provider), st.one_of(*(
            op.as_strategy(generation_mode=mode, path_parameters=path_params or None)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))))
    return st.sampled_from(PROVIDERS).flatmap(cases)


def _aim(case: Any, provider: str) -> None:
    """Name the provider's endpoint in a JSON body: the fuzz is about bodies, not unknown models."""
    if isinstance(case.body, dict) and "model" in (DOCUMENT["paths"][case.operation.path]
                                                   [case.operation.method]["requestBody"]["content"]
                                                   ["application/json"]["schema"].get("properties", {})):
        case.body["model"] = f"m-{provider}"


def _surface_prefixes() -> set[str]:
    """First path segments the surfaces own (a ``{version}`` segment: each of its enum values)."""
    found = set()
    for path, ops in DOCUMENT["paths"].items():
        first = path.lstrip("/").split("/", 1)[0]
        if first.startswith("{"):
            params = next(iter(ops.values()))["parameters"]
            found.update(next(p["schema"]["enum"] for p in params if "{" + p["name"] + "}" == first))
        else:
            found.add(first)
    return found


PREFIXES = _surface_prefixes()


def _verdict(case: Any, response: requests.Response) -> str:
    status = response.status_code
    if status < 300:
        return "2xx"
    if status == 404 and case.formatted_path.lstrip("/").split("/", 1)[0] not in PREFIXES:
        return "404 outside every surface"         # a negative path parameter ({version}: v2) left them all
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"{case.operation.label}: HTTP {status} is not JSON: {response.text[:300]!r}\n"
                    f"body sent: {case.body!r}")
    internal = "internal" in json.dumps(body)[:400] and status == 500
    own = "x-relaygate-served-model" not in response.headers or internal
    if status >= 500 and own:
        pytest.fail(f"{case.operation.label}: the gateway itself answered {status}: {body}\nbody sent: {case.body!r}")
    try:
        check(body, _error_schema(case.operation.path, case.operation.method))
    except RequestRejected as exc:
        pytest.fail(f"{case.operation.label}: HTTP {status} is not in the surface's error shape "
                    f"({exc.message}): {body}")
    return f"{status // 100}xx" + ("" if own else " (provider)")


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_every_answer_is_a_client_error_or_an_answer(gateway_url: str, op: Any) -> None:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {TEST_KEY}"}

    # No shrinking: the failure message already names the body sent, and shrinking a big
    # generated body costs minutes.
    @seed(20261203)
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(drawn=_strategy(op))
    def run(drawn: tuple[str, Any]) -> None:
        provider, case = drawn
        STATS[f"provider {provider}"] += 1
        _aim(case, provider)
        response = case.call(base_url=gateway_url, session=session, headers=headers, timeout=30)
        STATS["requests"] += 1
        STATS[_verdict(case, response)] += 1

    run()


def _report() -> None:
    line = (f"fuzz: {STATS['requests']} generated requests over {len(OPERATIONS)} operations x {len(PROVIDERS)} "
            f"providers; " + ", ".join(f"{k}: {v}" for k, v in sorted(STATS.items()) if k != "requests"))
    print("\n" + line)
    if path := os.environ.get("RELAYGATE_FUZZ_REPORT"):
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
