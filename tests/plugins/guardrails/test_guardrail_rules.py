"""Guardrails: PII detectors with checksums, keyword lists; block and mask on input and output."""

from __future__ import annotations

import aiohttp
import pytest
from support.behavior import Behavior
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for
from support.specs import validate_openai

from plugins.guardrails.detectors import Matcher, expand, keyword_detector, luhn_ok


@pytest.mark.parametrize("text,kind", [
    ("mail me at jane.doe+x@example.co.uk", "email"),
    ("card 4111 1111 1111 1111 please", "card"),
    ("card 5500-0000-0000-0004", "card"),
    ("ssn 123-45-6789", "us_ssn"),
    ("NI number AB 12 34 56 C", "uk_nino"),
    ("DNI 12345678Z", "es_dni"),
    ("IBAN GB82 WEST 1234 5698 7654 32", "iban"),
    ("call +1 415-555-0132 now", "phone"),
    ("call (415) 555-0132", "phone"),
])
def test_each_detector_finds_its_kind(text, kind):
    hit = Matcher(expand(["email", "phone", "card", "national_id", "iban"])).find(text)
    assert hit is not None and hit[2] == kind


@pytest.mark.parametrize("text", [
    "card 4111 1111 1111 1112",          # fails the Luhn check
    "DNI 12345678A",                     # wrong control letter
    "order 2024-01-15 at 10:30",         # a date is not a phone number
    "ssn 000-12-3456",                   # not a valid SSN area
    "version 1.2.3 and 42 apples",
])
def test_lookalikes_are_not_reported(text):
    assert Matcher(expand(["email", "phone", "card", "national_id"])).find(text) is None


def test_luhn():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_mask_replaces_every_hit_with_its_label():
    m = Matcher(expand(["email", "card", "phone"]))
    assert m.mask("a@b.io paid with 4111111111111111, call 415 555 0132") == \
        "[EMAIL] paid with [CARD], call [PHONE]"
    kw = Matcher([keyword_detector(["Project Falcon", "secret"])])
    assert kw.mask("The SECRET of project falcon; secretive is fine") == \
        "The [REDACTED] of [REDACTED]; secretive is fine"


def gw_settings(base_url, tmp_path, rules, endpoint_rules=None):
    cfg = openai_config(base_url)
    cfg["guardrails"] = rules
    if endpoint_rules is not None:
        cfg["endpoints"]["chat"]["guardrails"] = endpoint_rules
    return settings_for(cfg, ledger_path=str(tmp_path / "l.db"))


async def chat(gw, content: str, stream: bool = False) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(
            gw.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {TEST_KEY}"},
            json={"model": "chat", "stream": stream, "messages": [{"role": "user", "content": content}]}) as r:
        return r.status, await r.json(content_type=None) if not stream else {"text": await r.text()}


PII_BLOCK = {"name": "no-pii", "type": "pii", "action": "block", "apply_to": ["input"]}
PII_MASK = {"name": "mask-pii", "type": "pii", "action": "mask"}


async def test_input_block_is_a_400_in_openai_shape_naming_the_rule(fake_openai, tmp_path):
    async with run_gateway(gw_settings(fake_openai.base_url, tmp_path, [PII_BLOCK])) as gw:
        status, body = await chat(gw, "my card is 4111 1111 1111 1111")
        assert status == 400
        validate_openai("ErrorResponse", body)
        assert "'no-pii'" in body["error"]["message"] and "payment card" in body["error"]["message"]
        assert body["error"]["param"] == "messages[0].content"
        assert "4111" not in str(body)                       # the data itself is never echoed
        assert fake_openai.requests == []
        assert (await chat(gw, "hello there"))[0] == 200


async def test_input_mask_reaches_the_provider_masked(fake_openai, tmp_path):
    async with run_gateway(gw_settings(fake_openai.base_url, tmp_path, [PII_MASK])) as gw:
        status, _ = await chat(gw, "write to bob@example.com or call +44 20 7946 0958")
        assert status == 200
        sent = fake_openai.last.body["messages"][0]["content"]
        assert sent == "write to [EMAIL] or call [PHONE]"


async def test_output_mask_and_block_on_non_streaming_answers(fake_openai, tmp_path):
    rules = [{"name": "words", "type": "keywords", "keywords": ["falcon"], "action": "block",
              "apply_to": ["output"]}, PII_MASK]
    async with run_gateway(gw_settings(fake_openai.base_url, tmp_path, rules)) as gw:
        fake_openai.script(Behavior(text="Reach me at eve@example.org, SSN 123-45-6789."))
        status, body = await chat(gw, "who?")
        assert status == 200
        assert body["choices"][0]["message"]["content"] == "Reach me at [EMAIL], SSN [SSN]."
        fake_openai.script(Behavior(text="Operation Falcon starts at dawn."))
        status, body = await chat(gw, "plans?")
        assert status == 400 and "'words'" in body["error"]["message"] and "response" in body["error"]["message"]
        validate_openai("ErrorResponse", body)
        rows = await gw.ledger_rows()
        assert len(rows) == 2 and rows[1]["status"] == 400    # the provider was called: metered


async def test_endpoint_rule_replaces_the_global_rule_of_the_same_name(fake_openai, tmp_path):
    endpoint_rules = [{"name": "no-pii", "type": "pii", "action": "mask", "detect": ["email"]}]
    async with run_gateway(gw_settings(fake_openai.base_url, tmp_path, [PII_BLOCK], endpoint_rules)) as gw:
        status, _ = await chat(gw, "x@y.example.com")
        assert status == 200 and fake_openai.last.body["messages"][0]["content"] == "[EMAIL]"


async def test_streamed_answers_pass_unfiltered_but_input_rules_still_apply(fake_openai, tmp_path):
    async with run_gateway(gw_settings(fake_openai.base_url, tmp_path, [PII_BLOCK])) as gw:
        status, _ = await chat(gw, "ssn 123-45-6789", stream=True)
        assert status == 400 and fake_openai.requests == []
