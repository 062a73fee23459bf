"""Guardrails read what the provider will read: every text field of every surface, after NFKC and
with zero-width and other format characters removed. Masking changes only the match."""
# ruff: noqa: RUF001  (the corpus is made of look-alike characters on purpose)

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest
from support.gateway import TEST_KEY, openai_config, run_gateway, settings_for

from plugins.guardrails.detectors import Matcher, expand, keyword_detector
from plugins.guardrails.normalize import FORMAT_CHARS

ZW = "\u200b"
PII = Matcher(expand(["email", "phone", "card", "iban", "national_id"]))
FALCON = Matcher([keyword_detector(["Project Falcon"])])     # type: ignore[list-item]

#: text -> the kind found in it
CORPUS = [
    ("card 4111 1111 1111 1111 123", "card"),                        # a CVC right after the number
    ("4111 1111 1111 1111 5500 0000 0000 0004", "card"),            # two cards in one run of groups
    (f"4111{ZW}1111{ZW}1111{ZW}1111", "card"),                      # zero-width spaces between groups
    ("４１１１ １１１１ １１１１ １１１１", "card"),                  # fullwidth digits
    ("4111\u20601111\u20601111\u20601111", "card"),                 # word joiners
    ("card 4111-1111-1111-1111-9", "card"),
    ("alice＠example.com", "email"),                                # fullwidth at sign
    ("ali\u00adce@exam\u200dple.com", "email"),                     # soft hyphen, zero-width joiner
    ("ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ", "email"),
    ("IBAN GB82 WEST 1234 5698 7654 32 99", "iban"),                # trailing digits after the IBAN
    (f"GB82{ZW}WEST{ZW}1234{ZW}5698{ZW}7654{ZW}32", "iban"),
    ("ssn 123\u200b-45-6789", "us_ssn"),
]


@pytest.mark.parametrize(("text", "kind"), CORPUS)
def test_the_corpus_is_caught(text, kind):
    hit = PII.find(text)
    assert hit is not None and hit[2] == kind, (text, hit)


@pytest.mark.parametrize("text", [f"Project{ZW}Falcon", "project falcon", "PROJECT-FALCON", "Project\u00adFalcon",
                                  "Ｐｒｏｊｅｃｔ　Ｆａｌｃｏｎ", "ProjectFalcon", "Pro\u200cject Fal\u2060con"])
def test_keywords_survive_no_trick(text):
    assert FALCON.find(text) is not None


@pytest.mark.parametrize("text", ["Projected Falconry", "a project about falcons", "order 2024-01-15 10:30",
                                  "4111 1111 1111 1112", "1234 5678"])
def test_lookalikes_stay_unreported(text):
    assert PII.find(text) is None and FALCON.find(text) is None
    assert Matcher(expand(["iban"])).find("GB00 WEST 1234 5698 7654 32") is None      # fails mod-97


def test_masking_keeps_the_rest_of_the_text_exactly():
    text = f"naïve café — ＡＢＣ a\u200db: card 4111{ZW}1111 1111 1111 123 ✓ mail alice＠example.com ﬁn"
    assert PII.mask(text) == "naïve café — ＡＢＣ a\u200db: card [CARD] 123 ✓ mail [EMAIL] ﬁn"
    assert FALCON.mask(f"x Project{ZW}Falcon y ＡＢ") == "x [REDACTED] y ＡＢ"


def test_the_format_character_class_covers_unicodedata():
    # The class is only the fast "anything to remove?" test; removal asks unicodedata itself,
    # so the class may be larger (newer Unicode) but must not miss one.
    import sys
    import unicodedata
    expected = {c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}
    assert expected <= {c for c in range(sys.maxunicode + 1) if FORMAT_CHARS.match(chr(c))}


# -- every surface, through a running gateway --------------------------------------------------

CARD = f"4111{ZW}1111 1111 1111 123"
B64_CARD = base64.b64encode(f"invoice: card {CARD}".encode()).decode()
BLOCK = [{"name": "no-cards", "type": "pii", "detect": ["card"], "action": "block", "apply_to": ["input"]},
         {"name": "codenames", "type": "keywords", "keywords": ["Project Falcon"], "action": "block",
          "apply_to": ["input"]}]
MASK = [{"name": "mask", "type": "pii", "detect": ["card", "email"], "action": "mask", "apply_to": ["input"]},
        {"name": "words", "type": "keywords", "keywords": ["Project Falcon"], "action": "mask",
         "apply_to": ["input"]}]


def gateway_config(fake_openai, fake_anthropic, fake_gemini, rules: list[dict[str, Any]]) -> dict[str, Any]:
    cfg = openai_config(fake_openai.base_url)
    cfg["providers"].update({
        "anthropic": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "sk-ant-upstream"},
        "gemini": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": "gm-upstream"}})
    cfg["endpoints"].update({
        "claude": {"served_models": [{"name": "c", "provider": "anthropic", "model": "claude-sonnet-4-5"}]},
        "gem": {"served_models": [{"name": "g", "provider": "gemini", "model": "gemini-2.5-flash"}]}})
    cfg["guardrails"] = rules
    return cfg


def doc(data: str) -> dict[str, Any]:
    return {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": data}}


# (surface path, body, the field the block names)
BLOCKED = [
    ("/v1/chat/completions", {"model": "chat", "messages": [{"role": "user", "content": [doc(f"card {CARD}")]}]},
     "messages[0].content[0].source.data"),
    ("/v1/chat/completions", {"model": "chat", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                             "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": f"result: {CARD}"}]}, "messages[2].content"),
    ("/anthropic/v1/messages", {"model": "claude", "max_tokens": 10, "system": f"Project{ZW}Falcon rules",
                                "messages": [{"role": "user", "content": "hi"}]}, "system"),
    ("/anthropic/v1/messages", {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "text/plain", "data": B64_CARD}}]}]},
     "messages[0].content[0].source.data"),
    ("/anthropic/v1/messages", {"model": "claude", "max_tokens": 10, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": [{"type": "text", "text": f"Project{ZW}Falcon"}]}]}]},
     "messages[2].content[0].content[0].text"),
    ("/openai/v1/responses", {"model": "chat", "store": False, "input": f"pay with {CARD}"}, "input"),
    ("/openai/v1/responses", {"model": "chat", "store": False, "instructions": "Ｐｒｏｊｅｃｔ Ｆａｌｃｏｎ",
                              "input": "hi"}, "instructions"),
    ("/openai/v1/responses", {"model": "chat", "store": False, "input": [
        {"type": "function_call_output", "call_id": "c1", "output": f"card {CARD}"}]}, "input[0].output"),
    ("/gemini/v1beta/models/gem:generateContent", {"contents": [{"role": "user", "parts": [
        {"text": "hi"}, {"inlineData": {"mimeType": "text/plain", "data": B64_CARD}}]}]},
     "contents[0].parts[1].inlineData.data"),
    ("/gemini/v1beta/models/gem:generateContent", {"systemInstruction": {"parts": [{"text": f"Project{ZW}Falcon"}]},
                                                   "contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
     "systemInstruction.parts[0].text"),
    ("/gemini/v1beta/models/gem:generateContent", {"contents": [{"role": "user", "parts": [
        {"functionResponse": {"name": "f", "response": {"output": f"card {CARD}"}}}]}]},
     "contents[0].parts[0].functionResponse.response.output"),
]


async def post(gw, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body,
                                                    headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        return r.status, await r.json(content_type=None)


async def test_every_surface_blocks_before_the_provider(fake_openai, fake_anthropic, fake_gemini, tmp_path):
    cfg = gateway_config(fake_openai, fake_anthropic, fake_gemini, BLOCK)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        for path, body, field in BLOCKED:
            status, answer = await post(gw, path, body)
            assert status == 400, (path, field, answer)
            assert field in str(answer) and "4111" not in str(answer), (path, answer)
    assert fake_openai.requests == fake_anthropic.requests == fake_gemini.requests == []


async def test_masking_reaches_the_provider_with_the_rest_intact(fake_openai, fake_anthropic, fake_gemini, tmp_path):
    cfg = gateway_config(fake_openai, fake_anthropic, fake_gemini, MASK)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        text = f"Bonjour ＡＢ — write to alice＠example.com about Project{ZW}Falcon, card {CARD} ✓"
        status, _ = await post(gw, "/v1/chat/completions", {"model": "chat", "messages": [
            {"role": "user", "content": [{"type": "text", "text": text}, doc(f"note: {CARD}")]}]})
        assert status == 200
        content = fake_openai.last.body["messages"][0]["content"]
        assert content[0]["text"] == "Bonjour ＡＢ — write to [EMAIL] about [REDACTED], card [CARD] 123 ✓"
        assert content[1] == {"type": "text", "text": "note: [CARD] 123"}     # a text document, as OpenAI takes it
        status, _ = await post(gw, "/anthropic/v1/messages", {"model": "claude", "max_tokens": 10, "messages": [
            {"role": "user", "content": [{"type": "document", "source": {
                "type": "base64", "media_type": "text/plain", "data": B64_CARD}}]}]})
        assert status == 200
        sent = fake_anthropic.last.body["messages"][0]["content"][0]["source"]["data"]
        assert base64.b64decode(sent).decode() == "invoice: card [CARD] 123"
