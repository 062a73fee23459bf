"""A tool call the client never answered (Codex compacting mid-turn) still reaches a provider that
demands every call be answered right away: it gets an error result saying the call did not complete."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import pytest
from support.behavior import Behavior
from support.gateway import TEST_KEY, run_gateway, settings_for

NO_OUTPUT = "(no output: the call was not completed)"
CALL = {"type": "function_call", "call_id": "call_ls", "name": "shell", "arguments": '{"cmd": "ls"}'}
SUMMARISE = {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "Summarise the conversation so far."}]}


@pytest.fixture
async def gw(fake_anthropic, fake_gemini, tmp_path):
    cfg = {"providers": {"ant": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "a"},
                         "gem": {"type": "gemini", "base_url": fake_gemini.base_url, "api_key": "g"}},
           "endpoints": {"on-claude": {"served_models": [{"name": "c", "provider": "ant", "model": "claude-x"}]},
                         "on-gemini": {"served_models": [{"name": "g", "provider": "gem",
                                                          "model": "gemini-2.5-flash"}]}},
           "keys": [{"name": "k", "key": TEST_KEY}]}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as g:
        yield g


def client(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/openai/v1", api_key=TEST_KEY, max_retries=0)


async def test_the_fakes_refuse_an_unanswered_call_as_the_providers_do(fake_anthropic, fake_gemini):
    claude = {"model": "claude-x", "max_tokens": 10, "messages": [
        {"role": "user", "content": "list files"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "shell", "input": {}}]},
        {"role": "user", "content": "Summarise."}]}
    gemini = {"contents": [{"role": "user", "parts": [{"text": "list files"}]},
                           {"role": "model", "parts": [{"functionCall": {"name": "shell", "args": {}}}]},
                           {"role": "user", "parts": [{"text": "Summarise."}]}]}
    async with aiohttp.ClientSession() as s:
        async with s.post(fake_anthropic.base_url + "/v1/messages", json=claude) as r:
            assert r.status == 400
            err = (await r.json())["error"]
            assert err["type"] == "invalid_request_error" and "toolu_1" in err["message"]
        async with s.post(fake_gemini.base_url + "/v1beta/models/gemini-2.5-flash:generateContent",
                          json=gemini) as r:
            assert r.status == 400
            assert (await r.json())["error"]["status"] == "INVALID_ARGUMENT"


async def test_codex_compaction_request_reaches_anthropic_with_an_error_result(gw, fake_anthropic):
    fake_anthropic.always(Behavior(text="Summary."))
    out = await asyncio.to_thread(client(gw).responses.create, model="on-claude", input=[
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files."}]},
        CALL, SUMMARISE])
    assert out.output_text == "Summary."
    msgs = fake_anthropic.last.body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"][-1]["type"] == "tool_use" and msgs[1]["content"][-1]["id"] == "call_ls"
    assert msgs[2]["content"][0] == {"type": "tool_result", "tool_use_id": "call_ls", "is_error": True,
                                     "content": NO_OUTPUT}
    assert msgs[2]["content"][1]["text"] == "Summarise the conversation so far."


async def test_chat_calls_left_unanswered_get_error_results_on_anthropic(gw, fake_anthropic):
    fake_anthropic.always(Behavior(text="ok"))
    calls = [{"id": f"call_{n}", "type": "function", "function": {"name": "shell", "arguments": "{}"}}
             for n in ("a", "b")]
    c = client(gw)
    await asyncio.to_thread(c.chat.completions.create, model="on-claude", messages=[
        {"role": "user", "content": "go"}, {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_a", "content": "done"}, {"role": "user", "content": "and?"}])
    results = fake_anthropic.last.body["messages"][2]["content"]
    assert [(b.get("tool_use_id"), b.get("is_error")) for b in results] == [
        ("call_a", None), ("call_b", True), (None, None)]
    # the conversation ends on the calls: the results form the last user message
    await asyncio.to_thread(c.chat.completions.create, model="on-claude", messages=[
        {"role": "user", "content": "go"}, {"role": "assistant", "content": None, "tool_calls": calls}])
    last = fake_anthropic.last.body["messages"][-1]
    assert last["role"] == "user" and [b["tool_use_id"] for b in last["content"]] == ["call_a", "call_b"]


async def test_codex_compaction_request_reaches_gemini_with_an_error_response(gw, fake_gemini):
    fake_gemini.always(Behavior(text="Summary."))
    out = await asyncio.to_thread(client(gw).responses.create, model="on-gemini", input=[
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files."}]},
        CALL, SUMMARISE])
    assert out.output_text == "Summary."
    contents = fake_gemini.last.body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[2]["parts"][0] == {"functionResponse": {"id": "call_ls", "name": "shell",
                                                            "response": {"error": NO_OUTPUT}}}
    assert contents[2]["parts"][1] == {"text": "Summarise the conversation so far."}


async def test_chat_calls_left_unanswered_get_error_responses_on_gemini(gw, fake_gemini):
    fake_gemini.always(Behavior(text="ok"))
    calls = [{"id": "call_a", "type": "function", "function": {"name": "shell", "arguments": "{}"}}]
    for stream in (False, True):
        kwargs = {"stream": True} if stream else {}
        res = await asyncio.to_thread(client(gw).chat.completions.create, model="on-gemini", messages=[
            {"role": "user", "content": "go"}, {"role": "assistant", "content": None, "tool_calls": calls}],
            **kwargs)
        if stream:
            list(res)
        last = fake_gemini.last.body["contents"][-1]
        assert last == {"role": "user", "parts": [{"functionResponse": {"id": "call_a", "name": "shell",
                                                                        "response": {"error": NO_OUTPUT}}}]}
