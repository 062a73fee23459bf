"""Chat content items of the reference (.ja edition): accepted, validated, forwarded untouched to an
OpenAI-compatible server, fitted to OpenAI's own parts on an ``openai`` provider."""

from __future__ import annotations

import json

import aiohttp
import pytest
from openai_gateway_config import all_tasks_config
from support.behavior import Behavior
from support.gateway import TEST_KEY, run_gateway, settings_for
from support.specs import validate_openai

PNG = ("data:image/png;base64,"
       "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
PDF = "data:application/pdf;base64,JVBERi0xLjQK"

VALID_PARTS = [
    {"type": "text", "text": "Summarise the attachments.", "cache_control": {"type": "ephemeral"},
     "citations": [{"type": "char_location", "cited_text": "Relaygate", "document_index": 0,
                    "document_title": "Intro", "start_char_index": 0, "end_char_index": 9}]},
    {"type": "text", "text": "Reference-style cache control.", "cache_control": "ephemeral"},
    {"type": "image_url", "image_url": {"url": PNG, "detail": "high"}},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    {"type": "document", "title": "Intro", "context": "product notes", "citations": {"enabled": True},
     "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}},
    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Relaygate is a gateway."}},
    {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "chunk"}]}},
    {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
    {"type": "file", "file": {"filename": "a.pdf", "file_data": PDF}},
    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},      # OpenAI's, passed on
]
REASONING = {"type": "reasoning", "summary": [
    {"type": "summary_text", "text": "I compared both.", "signature": "sig=="},
    {"type": "summary_encrypted_text", "data": "ZW5jcnlwdGVk"}]}


@pytest.fixture
async def gw(fake_openai, tmp_path):
    config = all_tasks_config(fake_openai.base_url)
    config["providers"]["compat"] = {"type": "openai_compatible", "base_url": fake_openai.base_url, "api_key": "c"}
    config["endpoints"]["compat"] = {"task": "chat", "served_models": [{"name": "c", "provider": "compat",
                                                                        "model": "llama"}]}
    config["endpoints"]["chat-drop"] = {**config["endpoints"]["chat"], "unsupported_params": "drop"}
    settings = settings_for(config, ledger_path=str(tmp_path / "ledger.db"))
    async with run_gateway(settings) as running:
        yield running


async def chat(gw, messages: list, prefix: str = "/mlflow/v1", model: str = "chat") -> tuple[int, dict]:
    status, body, _ = await chat_with_headers(gw, messages, prefix, model)
    return status, body


async def chat_with_headers(gw, messages: list, prefix: str, model: str) -> tuple[int, dict, dict]:
    async with aiohttp.ClientSession() as s, s.post(
            f"{gw.url}{prefix}/chat/completions", json={"model": model, "messages": messages},
            headers={"Authorization": f"Bearer {TEST_KEY}"}) as r:
        return r.status, await r.json(), dict(r.headers)


@pytest.mark.parametrize("prefix", ["/mlflow/v1", "/openai/v1"])
async def test_every_content_item_is_accepted_and_forwarded_untouched_to_a_compatible_server(gw, fake_openai, prefix):
    messages = [{"role": "user", "content": VALID_PARTS},
                {"role": "assistant", "content": [REASONING, {"type": "text", "text": "Both say hi."}]},
                {"role": "user", "content": "Thanks"}]
    fake_openai.script(Behavior(text="ok"))
    status, body = await chat(gw, messages, prefix, model="compat")
    assert status == 200, body
    validate_openai("CreateChatCompletionResponse", body)
    assert fake_openai.last.body["messages"] == messages


async def test_documents_become_openai_file_and_text_parts_on_openai(gw, fake_openai):
    documents = [{k: v for k, v in p.items() if k != "citations"} for p in VALID_PARTS
                 if p["type"] == "document" and p["source"]["type"] != "url"]
    fake_openai.script(Behavior(text="ok"))
    status, body = await chat(gw, [{"role": "user", "content": documents}])
    assert status == 200, body
    assert fake_openai.last.body["messages"][0]["content"] == [
        {"type": "text", "text": "product notes"},
        {"type": "file", "file": {"file_data": PDF, "filename": "Intro"}},
        {"type": "text", "text": "Relaygate is a gateway."},
        {"type": "text", "text": "chunk"}]


@pytest.mark.parametrize(("part", "param"), [
    (REASONING, "messages.content.reasoning"),
    (VALID_PARTS[0], "messages.content.text.citations"),
    ({"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
     "messages.content.document.source"),
    (VALID_PARTS[4], "messages.content.document.citations"),
])
async def test_items_openai_cannot_take_are_named_never_dropped_silently(gw, fake_openai, part, param):
    role = "assistant" if part is REASONING else "user"
    messages = [{"role": "user", "content": "Hi"}, {"role": role, "content": [part]},
                {"role": "user", "content": "Go on"}]
    status, body = await chat(gw, messages)
    assert status == 400 and validate_openai("ErrorResponse", body)["error"]["param"] == param
    assert fake_openai.requests == []
    fake_openai.script(Behavior(text="ok"))
    status, body, headers = await chat_with_headers(gw, messages, "/mlflow/v1", "chat-drop")
    assert status == 200 and param in headers["x-relaygate-dropped"].split(",")


@pytest.mark.parametrize(("part", "param"), [
    ({"text": "no type"}, "messages[0].content[0]"),
    ({"type": "text"}, "messages[0].content[0].text"),
    ({"type": "text", "text": "x", "citations": "nope"}, "messages[0].content[0].citations"),
    ({"type": "text", "text": "x", "citations": [{"cited_text": "x"}]}, "messages[0].content[0].citations[0].type"),
    ({"type": "text", "text": "x", "citations": [{"type": "char_location", "start_char_index": "0"}]},
     "messages[0].content[0].citations[0].start_char_index"),
    ({"type": "text", "text": "x", "cache_control": 1}, "messages[0].content[0].cache_control"),
    ({"type": "image_url", "image_url": PNG}, "messages[0].content[0].image_url"),
    ({"type": "image_url", "image_url": {"detail": "low"}}, "messages[0].content[0].image_url.url"),
    ({"type": "image_url", "image_url": {"url": "ftp://x/cat.png"}}, "messages[0].content[0].image_url.url"),
    ({"type": "image_url", "image_url": {"url": PNG, "detail": "max"}}, "messages[0].content[0].image_url.detail"),
    ({"type": "reasoning"}, "messages[0].content[0].summary"),
    ({"type": "reasoning", "summary": [{"type": "summary_text"}]}, "messages[0].content[0].summary[0].text"),
    ({"type": "reasoning", "summary": [{"type": "summary_encrypted_text"}]},
     "messages[0].content[0].summary[0].data"),
    ({"type": "reasoning", "summary": [{"type": "thought", "text": "x"}]},
     "messages[0].content[0].summary[0].type"),
    ({"type": "document"}, "messages[0].content[0].source"),
    ({"type": "document", "source": {"type": "zip"}}, "messages[0].content[0].source.type"),
    ({"type": "document", "source": {"type": "base64", "data": "JVBE"}},
     "messages[0].content[0].source.media_type"),
    ({"type": "document", "source": {"type": "text", "media_type": "text/plain"}},
     "messages[0].content[0].source.data"),
    ({"type": "document", "source": {"type": "url"}}, "messages[0].content[0].source.url"),
    ({"type": "document", "source": {"type": "content"}}, "messages[0].content[0].source.content"),
    ({"type": "document", "source": {"type": "url", "url": "https://x"}, "citations": {"enabled": "yes"}},
     "messages[0].content[0].citations"),
    ({"type": "file"}, "messages[0].content[0].file"),
    ({"type": "file", "file": {"filename": "a.pdf"}}, "messages[0].content[0].file.file_data"),
])
async def test_invalid_content_items_are_400_naming_the_field(gw, fake_openai, part, param):
    status, body = await chat(gw, [{"role": "user", "content": [part]}])
    assert status == 400
    assert validate_openai("ErrorResponse", body)["error"]["param"] == param
    assert fake_openai.requests == []


async def test_file_by_id_is_accepted_as_openai_allows(gw, fake_openai):
    status, _ = await chat(gw, [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}])
    assert status == 200
    assert json.dumps(fake_openai.last.body["messages"][0]["content"]) == \
        json.dumps([{"type": "file", "file": {"file_id": "file-1"}}])
