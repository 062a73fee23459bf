"""Prompt-cache markers survive every client surface, asserted in what the fake provider received.

Anthropic breakpoints (``cache_control``) from OpenAI chat (``/openai/v1`` and the unified
``/v1``: parts, whole messages, tools) and from Responses input items; natively from Anthropic
clients. OpenAI's ``prompt_cache_key`` / ``prompt_cache_retention`` reach OpenAI, and an
Anthropic marker never does (OpenAI caches prefixes by itself). Gemini's ``cachedContent`` is
passed through natively.
"""

from __future__ import annotations

import asyncio

import pytest
from caching_support import anthropic_client, gemini_client, openai_client, three_provider_config
from support.gateway import run_gateway, settings_for

EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}
TOOL = {"type": "function", "function": {"name": "read_file", "description": "Read a file",
                                         "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}},
        "cache_control": EPHEMERAL}


@pytest.fixture
async def gw(fake_anthropic, fake_openai, fake_gemini, tmp_path):
    cfg = three_provider_config(fake_anthropic, fake_openai, fake_gemini)
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as g:
        yield g


def chat_messages(system_mark, message_mark) -> list[dict]:
    return [
        {"role": "system", "content": [{"type": "text", "text": "You are a careful coder. " * 20,
                                        "cache_control": system_mark}]},
        {"role": "user", "content": "Read main.py", "cache_control": message_mark},
    ]


@pytest.mark.parametrize("path", ["/openai/v1", "/v1"])
async def test_chat_markers_reach_anthropic_on_parts_messages_and_tools(gw, fake_anthropic, path):
    client = openai_client(gw, path)
    await asyncio.to_thread(client.chat.completions.create, model="claude", max_tokens=50, tools=[TOOL],
                            messages=chat_messages(EPHEMERAL, "ephemeral"))     # the reference's string form
    sent = fake_anthropic.last.body
    assert sent["system"][-1]["cache_control"] == EPHEMERAL
    assert sent["messages"][0]["content"][-1] == {"type": "text", "text": "Read main.py",
                                                  "cache_control": EPHEMERAL}
    assert sent["tools"][0]["cache_control"] == EPHEMERAL


async def test_chat_one_hour_marker_on_a_tool_result_keeps_its_ttl(gw, fake_anthropic):
    messages = [{"role": "user", "content": "Read main.py"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "read_file",
                                                                      "arguments": '{"path":"main.py"}'}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "print('hi')", "cache_control": HOUR}]
    await asyncio.to_thread(openai_client(gw).chat.completions.create, model="claude", max_tokens=50,
                            tools=[TOOL], messages=messages)
    result = fake_anthropic.last.body["messages"][-1]["content"][-1]
    assert result["type"] == "tool_result" and result["cache_control"] == HOUR


@pytest.mark.parametrize("path", ["/openai/v1", "/v1"])
async def test_responses_input_item_markers_reach_anthropic(gw, fake_anthropic, path):
    client = openai_client(gw, path)
    await asyncio.to_thread(
        client.responses.create, model="claude", max_output_tokens=50, store=False,
        tools=[{"type": "function", "name": "read_file", "parameters": {"type": "object", "properties": {}},
                "cache_control": EPHEMERAL}],
        input=[{"type": "message", "role": "developer",
                "content": [{"type": "input_text", "text": "You are a careful coder.", "cache_control": HOUR}]},
               {"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "Read main.py", "cache_control": EPHEMERAL}]}])
    sent = fake_anthropic.last.body
    assert sent["system"][-1] == {"type": "text", "text": "You are a careful coder.", "cache_control": HOUR}
    assert sent["messages"][0]["content"][-1]["cache_control"] == EPHEMERAL
    assert sent["tools"][0]["cache_control"] == EPHEMERAL


async def test_anthropic_clients_markers_pass_natively(gw, fake_anthropic):
    await asyncio.to_thread(
        anthropic_client(gw).messages.create, model="claude", max_tokens=50,
        system=[{"type": "text", "text": "You are a careful coder.", "cache_control": HOUR}],
        tools=[{"name": "read_file", "input_schema": {"type": "object"}, "cache_control": EPHEMERAL}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPHEMERAL}]}])
    sent = fake_anthropic.last.body
    assert sent["system"][0]["cache_control"] == HOUR
    assert sent["tools"][0]["cache_control"] == EPHEMERAL
    assert sent["messages"][0]["content"][0]["cache_control"] == EPHEMERAL


async def test_openai_gets_prompt_cache_key_and_retention_but_never_anthropic_markers(gw, fake_openai, fake_anthropic):
    await asyncio.to_thread(openai_client(gw).chat.completions.create, model="gpt", tools=[TOOL],
                            messages=chat_messages(EPHEMERAL, EPHEMERAL), prompt_cache_key="session-42",
                            prompt_cache_retention="24h")
    sent = fake_openai.last.body
    assert sent["prompt_cache_key"] == "session-42" and sent["prompt_cache_retention"] == "24h"
    await asyncio.to_thread(openai_client(gw).responses.create, model="gpt", input="hi", store=False,
                            prompt_cache_key="session-42", prompt_cache_retention="24h")
    sent = fake_openai.last.body
    assert sent["prompt_cache_key"] == "session-42" and sent["prompt_cache_retention"] == "24h"
    # Responses -> Anthropic: the OpenAI-only hints are not sent to Anthropic
    await asyncio.to_thread(openai_client(gw).responses.create, model="claude", input="hi", store=False,
                            max_output_tokens=20, prompt_cache_key="session-42", prompt_cache_retention="24h")
    assert "prompt_cache_key" not in fake_anthropic.last.body


async def test_anthropic_markers_are_not_sent_to_openai_by_a_translation(gw, fake_openai):
    """An Anthropic client on an OpenAI model: the breakpoints have no OpenAI equivalent."""
    await asyncio.to_thread(
        anthropic_client(gw).messages.create, model="gpt", max_tokens=50,
        system=[{"type": "text", "text": "You are a careful coder.", "cache_control": EPHEMERAL}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPHEMERAL}]}])
    assert b"cache_control" not in fake_openai.last.raw_body


async def test_gemini_cached_content_passes_through_natively(gw, fake_gemini):
    from google.genai import types
    client = gemini_client(gw)          # held: the SDK closes its transport when the client is collected
    await asyncio.to_thread(client.models.generate_content, model="flash", contents="hi",
                            config=types.GenerateContentConfig(cached_content="cachedContents/abc123"))
    assert fake_gemini.last.body["cachedContent"] == "cachedContents/abc123"


async def test_automatic_breakpoints_reach_anthropic_from_gemini_responses_and_chat_clients(
        fake_anthropic, fake_openai, fake_gemini, tmp_path):
    """A client that cannot say cache_control (Gemini) or does not (chat, Responses) gets breakpoints."""
    from google.genai import types

    from plugins.anthropic.cache_marks import count_marks
    cfg = three_provider_config(fake_anthropic, fake_openai, fake_gemini, prompt_cache={"auto_breakpoints": True})
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as gw:
        gem = gemini_client(gw)
        await asyncio.to_thread(gem.models.generate_content, model="claude", contents="Read main.py",
                                config=types.GenerateContentConfig(system_instruction="You are a careful coder.",
                                                                   max_output_tokens=50))
        sent = fake_anthropic.last.body
        assert sent["system"][-1]["cache_control"] == EPHEMERAL
        assert sent["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL
        await asyncio.to_thread(openai_client(gw).responses.create, model="claude", input="hi", store=False,
                                instructions="Be brief.", max_output_tokens=20)
        assert 2 <= count_marks(fake_anthropic.last.body) <= 4
        await asyncio.to_thread(openai_client(gw).chat.completions.create, model="claude", max_tokens=20,
                                tools=[{k: v for k, v in TOOL.items() if k != "cache_control"}],
                                messages=[{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": "one"}, {"role": "assistant", "content": "ok"},
                                          {"role": "user", "content": "two"}])
        sent = fake_anthropic.last.body
        assert count_marks(sent) == 4 and sent["tools"][0]["cache_control"] == EPHEMERAL
        await asyncio.to_thread(openai_client(gw).chat.completions.create, model="gpt",
                                messages=[{"role": "user", "content": "hi"}])
        assert b"cache_control" not in fake_openai.last.raw_body        # OpenAI caches prefixes by itself
