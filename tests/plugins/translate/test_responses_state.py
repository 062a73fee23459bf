"""previous_response_id on a translated endpoint: the gateway keeps the conversation, per key."""

from __future__ import annotations

import asyncio

import openai
import pytest
from support.behavior import Behavior
from support.gateway import TEST_KEY, run_gateway, settings_for

OTHER_KEY = "rg-other-key-0123456789"


@pytest.fixture
async def gw(fake_anthropic, tmp_path):
    cfg = {"providers": {"ant": {"type": "anthropic", "base_url": fake_anthropic.base_url, "api_key": "sk-ant"}},
           "endpoints": {"claude": {"served_models": [{"name": "c", "provider": "ant", "model": "claude-x"}]}},
           "keys": [{"name": "k", "key": TEST_KEY}, {"name": "other", "key": OTHER_KEY}]}
    async with run_gateway(settings_for(cfg, ledger_path=str(tmp_path / "l.db"))) as g:
        yield g


def client(gw, key: str = TEST_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/openai/v1", api_key=key, max_retries=0)


async def test_previous_response_id_replays_the_conversation_to_a_stateless_provider(gw, fake_anthropic, tmp_path):
    fake_anthropic.script(Behavior(text="Paris is in France."), Behavior(text="About 2 million."))
    c = client(gw)
    first = await asyncio.to_thread(c.responses.create, model="claude", input="Where is Paris?",
                                    instructions="Be brief.")
    assert first.id.startswith("resp_") and first.output_text == "Paris is in France."
    second = await asyncio.to_thread(c.responses.create, model="claude", input="How many people live there?",
                                     previous_response_id=first.id)
    assert second.output_text == "About 2 million."
    msgs = fake_anthropic.last.body["messages"]
    assert [(m["role"], m["content"][0]["text"]) for m in msgs] == [
        ("user", "Where is Paris?"), ("assistant", "Paris is in France."), ("user", "How many people live there?")]
    assert "system" not in fake_anthropic.last.body        # instructions do not carry over (OpenAI semantics)
    assert (tmp_path / "relaygate-responses.db").exists()


async def test_ids_are_scoped_to_the_key_and_store_false_keeps_nothing(gw, fake_anthropic):
    fake_anthropic.always(Behavior(text="ok"))
    first = await asyncio.to_thread(client(gw).responses.create, model="claude", input="hi")
    with pytest.raises(openai.NotFoundError) as info:       # as if it never existed
        await asyncio.to_thread(client(gw, OTHER_KEY).responses.create, model="claude", input="x",
                                previous_response_id=first.id)
    assert info.value.body["param"] == "previous_response_id"
    unstored = await asyncio.to_thread(client(gw).responses.create, model="claude", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        await asyncio.to_thread(client(gw).responses.create, model="claude", input="x",
                                previous_response_id=unstored.id)


async def test_streamed_responses_are_stored_too(gw, fake_anthropic):
    fake_anthropic.script(Behavior(text="one"), Behavior(text="two"))
    c = client(gw)

    def streamed() -> str:
        with c.responses.stream(model="claude", input="first") as s:
            return s.get_final_response().id

    rid = await asyncio.to_thread(streamed)
    await asyncio.to_thread(c.responses.create, model="claude", input="second", previous_response_id=rid)
    assert [m["role"] for m in fake_anthropic.last.body["messages"]] == ["user", "assistant", "user"]
