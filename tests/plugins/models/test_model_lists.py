"""Model lists that can be called: in zero-config every surface's ``GET .../models`` lists the
providers' own models under their wildcard endpoints (``openai/gpt-4o-mini``), never ``openai/*``;
the providers' lists are kept for a TTL; a provider that cannot be asked falls back to
``RELAYGATE_MODELS``."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import pytest
from proxy.zeroconf import settings_from_env
from support.behavior import Behavior
from support.gateway import TEST_KEY, run_gateway, settings_for

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


def env_for(fake_openai, fake_anthropic, fake_gemini, tmp_path, **extra: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": "sk-up", "OPENAI_BASE_URL": fake_openai.base_url,
            "ANTHROPIC_API_KEY": "sk-ant", "ANTHROPIC_BASE_URL": fake_anthropic.base_url,
            "GEMINI_API_KEY": "gm", "GOOGLE_GEMINI_BASE_URL": fake_gemini.base_url,
            "RELAYGATE_API_KEYS": TEST_KEY, "RELAYGATE_LEDGER_PATH": str(tmp_path / "ledger.db"), **extra}


async def ids_on_every_surface(url: str) -> dict[str, list[str]]:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        out = {}
        for path in ("/v1/models", "/mlflow/v1/models", "/openai/v1/models", "/anthropic/v1/models"):
            async with http.get(url + path) as r:
                assert r.status == 200, await r.text()
                out[path] = [m["id"] for m in (await r.json())["data"]]
        async with http.get(url + "/gemini/v1beta/models") as r:
            assert r.status == 200
            out["/gemini/v1beta/models"] = [m["name"].removeprefix("models/") for m in (await r.json())["models"]]
    return out


async def test_zero_config_lists_callable_provider_models_everywhere(fake_openai, fake_anthropic, fake_gemini,
                                                                     tmp_path) -> None:
    settings = settings_from_env(env_for(fake_openai, fake_anthropic, fake_gemini, tmp_path))
    async with run_gateway(settings) as gw:
        lists = await ids_on_every_surface(gw.url)
        want = ([f"anthropic/{m}" for m in sorted(fake_anthropic.models)]
                + [f"gemini/{m}" for m in sorted(fake_gemini.models)]
                + [f"openai/{m}" for m in sorted(fake_openai.models)])
        for path, ids in lists.items():
            assert ids == want, path
            assert not any("*" in i for i in ids), path
        # every listed id can be called, here through the OpenAI SDK on /v1
        client = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=TEST_KEY, max_retries=0)
        assert [m.id for m in (await client.models.list()).data] == want
        for model_id in ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-6", "gemini/gemini-2.5-flash"):
            reply = await client.chat.completions.create(model=model_id, messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content, model_id
    # each provider was asked once for its list, through its own API and credentials
    assert [r.path for r in fake_openai.requests if r.method == "GET"] == ["/v1/models"]
    assert [r.headers.get("x-api-key") for r in fake_anthropic.requests if r.method == "GET"] == ["sk-ant"]
    assert len([r for r in fake_gemini.requests if r.method == "GET"]) == 1


async def test_a_provider_without_a_list_falls_back_to_relaygate_models(fake_openai, fake_anthropic, fake_gemini,
                                                                         tmp_path) -> None:
    fake_openai.script(Behavior(status=503, match="/models", times=None))
    env = env_for(fake_openai, fake_anthropic, fake_gemini, tmp_path,
                  RELAYGATE_MODELS="openai/gpt-4o-mini, openai/o3,anthropic/claude-from-env")
    async with run_gateway(settings_from_env(env)) as gw:
        ids = (await ids_on_every_surface(gw.url))["/v1/models"]
    assert [i for i in ids if i.startswith("openai/")] == ["openai/gpt-4o-mini", "openai/o3"]
    # anthropic answered: its own list wins over the explicit one
    assert "anthropic/claude-from-env" not in ids and "anthropic/claude-sonnet-4-6" in ids


async def test_provider_lists_are_kept_for_the_ttl(fake_openai, tmp_path) -> None:
    config = {"providers": {"openai": {"type": "openai", "base_url": fake_openai.base_url, "api_key": "sk"}},
              "endpoints": {"chat": {"served_models": [{"name": "gpt", "provider": "openai", "model": "gpt-4o"}]},
                            "oa/*": {"task": "any", "served_models": [
                                {"name": "openai", "provider": "openai", "model": "*"}]}},
              "keys": [{"name": "k", "key": TEST_KEY}],
              "model_list": {"ttl_seconds": 0.3}}
    async with run_gateway(settings_for(config, ledger_path=str(tmp_path / "l.db"))) as gw, \
            aiohttp.ClientSession(headers=AUTH) as http:
        for _ in range(3):
            async with http.get(gw.url + "/v1/models") as r:
                ids = [m["id"] for m in (await r.json())["data"]]
        assert ids[0] == "chat" and "oa/gpt-4o-mini" in ids
        assert len(fake_openai.requests_to("/models")) == 1
        await asyncio.sleep(0.35)
        async with http.get(gw.url + "/v1/models") as r:
            assert r.status == 200
        assert len(fake_openai.requests_to("/models")) == 2


@pytest.mark.parametrize(("pattern", "model_id", "captured"), [
    ("*", "gpt-4o", "gpt-4o"), ("llama-*", "llama-3", "3"), ("llama-*", "mistral", None), ("*-chat", "x-chat", "x")])
def test_served_model_patterns_capture_the_endpoint_part(pattern, model_id, captured) -> None:
    from plugins.models.listing import captured_part
    assert captured_part(pattern, model_id) == captured
