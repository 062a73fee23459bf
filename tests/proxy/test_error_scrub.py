"""A provider that quotes its credential in an error body: the client never sees it, on any route.

The fakes answer 400, 429 and 500 with the gateway's provider key in the message: whole,
shortened (a prefix and a suffix), and inside a base64 Basic credential. Passthrough and
translated routes relay the error in the client's shape with the credential cut out and the
rest of the message intact.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp
import openai
import pytest
from support.behavior import Behavior
from support.gateway import TEST_KEY, run_gateway, settings_for

from proxy.scrub import base64_forms, scrub

OPENAI_KEY = "sk-proj-Xq7Lm2Pz9Rt4Vw1Ny6Kc3Hb8Jd5Fg0SaUe2Io4YtQmWnEr7"
ANTHROPIC_KEY = "sk-ant-api03-R2d2C3poL7k9Mn4Bv6Cx8Zq1Wp3Ey5Tu0Io9Pa-8sDf7Gh6JkAA"
GEMINI_KEY = "AIzaSyB7x9Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz"
HEADER_TOKEN = "hdr-tok-6Vb8Nm0Qa2Ws4Ed6Rf8Tg0Yh2Uj"
USEFUL = "Your request was rejected: quota for project 42 is exhausted"


def leaky_message(key: str) -> str:
    basic = base64.b64encode(f"user:{key}".encode()).decode()
    return (f"{USEFUL}. Key used: {key} (shown as {key[:12]}...{key[-9:]}); "
            f"Authorization: Basic {basic}; proxy token {HEADER_TOKEN}")


def config(fake_openai, fake_anthropic, fake_gemini) -> dict[str, Any]:
    once = {"retry": {"max_attempts": 1}}
    return {
        "providers": {
            "openai": {"type": "openai", "base_url": fake_openai.base_url, "api_key": OPENAI_KEY,
                       "headers": {"X-Proxy-Token": HEADER_TOKEN}},
            "anthropic": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": ANTHROPIC_KEY,
                          "headers": {"X-Proxy-Token": HEADER_TOKEN}},
            "gemini": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": GEMINI_KEY,
                       "headers": {"X-Proxy-Token": HEADER_TOKEN}}},
        "endpoints": {
            "gpt": {**once, "served_models": [{"name": "g", "provider": "openai", "model": "gpt-4o-mini"}]},
            "claude": {**once, "served_models": [{"name": "c", "provider": "anthropic", "model": "claude-x"}]},
            "gem": {**once, "served_models": [{"name": "m", "provider": "gemini", "model": "gemini-2.5-flash"}]}},
        "keys": [{"name": "k", "key": TEST_KEY}],
    }


MESSAGES = [{"role": "user", "content": "hi"}]
# (name, path, body, the provider key the fake answering it holds)
ROUTES = [
    ("chat->openai (passthrough)", "/v1/chat/completions", {"model": "gpt", "messages": MESSAGES}, OPENAI_KEY),
    ("anthropic->anthropic (passthrough)", "/anthropic/v1/messages",
     {"model": "claude", "max_tokens": 5, "messages": MESSAGES}, ANTHROPIC_KEY),
    ("gemini->gemini (passthrough)", "/gemini/v1beta/models/gem:generateContent",
     {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, GEMINI_KEY),
    ("chat->anthropic (translated)", "/v1/chat/completions", {"model": "claude", "messages": MESSAGES}, ANTHROPIC_KEY),
    ("anthropic->openai (translated)", "/anthropic/v1/messages",
     {"model": "gpt", "max_tokens": 5, "messages": MESSAGES}, OPENAI_KEY),
    ("responses->gemini (translated)", "/openai/v1/responses", {"model": "gem", "input": "hi", "store": False},
     GEMINI_KEY),
]


def assert_clean(text: str, key: str) -> None:
    for secret in (key, HEADER_TOKEN):
        assert secret not in text
        assert secret[:12] not in text and secret[-9:] not in text
        for form in base64_forms(secret.encode()):
            assert form.decode() not in text
    assert USEFUL in text                                  # the useful part of the message stays


@pytest.mark.parametrize("status", [400, 429, 500])
async def test_provider_keys_are_scrubbed_from_relayed_errors(fake_openai, fake_anthropic, fake_gemini, tmp_path,
                                                              status):
    for fake, key in ((fake_openai, OPENAI_KEY), (fake_anthropic, ANTHROPIC_KEY), (fake_gemini, GEMINI_KEY)):
        fake.always(Behavior(status=status, error_message=leaky_message(key)))
    cfg = config(fake_openai, fake_anthropic, fake_gemini)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TEST_KEY}"}) as s:
            for name, path, body, key in ROUTES:
                async with s.post(gw.url + path, json=body) as r:
                    text = await r.text()
                    assert r.status >= 400, (name, r.status, text)
                assert_clean(text, key)
                assert "[REDACTED]" in text, name


async def test_the_openai_sdk_shows_the_message_without_the_key(fake_openai, fake_anthropic, fake_gemini, tmp_path):
    fake_openai.always(Behavior(status=400, error_message=leaky_message(OPENAI_KEY)))
    cfg = config(fake_openai, fake_anthropic, fake_gemini)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=TEST_KEY, max_retries=0)
        with pytest.raises(openai.BadRequestError) as info:
            await asyncio.to_thread(client.chat.completions.create, model="gpt", messages=MESSAGES)
    assert_clean(str(info.value), OPENAI_KEY)


def test_scrub_keeps_everything_else_byte_for_byte():
    body = f'{{"error": {{"message": "bad key {OPENAI_KEY}, last four r7 ok", "code": "é"}}}}'.encode()
    expected = '{"error": {"message": "bad key [REDACTED], last four r7 ok", "code": "é"}}'.encode()
    assert scrub(body, [OPENAI_KEY]) == expected
    assert scrub(b"nothing to see", [OPENAI_KEY, "short"]) == b"nothing to see"
