"""Recorded Claude Code, Codex and Gemini CLI sessions replayed on an Anthropic model behind a fake
that caches prefixes by hashing (tests/support/fake_prompt_cache.py): automatic breakpoints and the
prefix stabiliser on and off, and what each session cost in the ledger.

Each recorded session is continued by eight follow-up turns (an agent's next turns: its prefix
grows by the answer and a new message), since the captures hold only two or three requests.
``tests/bench/prompt_cache_replay.py`` prints the same numbers for the README.
"""

from __future__ import annotations

import pytest
from support.fake_prompt_cache import PrefixCache
from support.session_replay import NOISE_PATTERN, replay

from plugins.anthropic.cache_marks import count_marks
from plugins.prompt_cache.breakpoints import add_breakpoints
from plugins.prompt_cache.stabilizer import NOTE, stabilize

AUTO = {"auto_breakpoints": True}


@pytest.mark.parametrize("session", ["codex", "gemini-cli"])
async def test_automatic_breakpoints_cut_an_unmarked_agent_sessions_cost(session, tmp_path):
    off = await replay(session, str(tmp_path / "off.db"), None, extra_turns=8)
    on = await replay(session, str(tmp_path / "on.db"), AUTO, extra_turns=8)
    assert off.cache_read == 0 and off.cache_write == 0           # the client marks nothing
    assert on.cache_read > 0.8 * on.input_tokens                    # most input is read from the cache
    assert on.cost_usd < 0.5 * off.cost_usd


async def test_claude_codes_own_markers_are_left_alone(tmp_path):
    off = await replay("claude-code", str(tmp_path / "off.db"), None, extra_turns=2)
    on = await replay("claude-code", str(tmp_path / "on.db"), AUTO, extra_turns=2)
    assert on == off and off.cache_read > 0


async def test_the_stabiliser_moves_per_request_noise_out_of_the_cached_prefix(tmp_path):
    noisy = await replay("claude-code", str(tmp_path / "a.db"), AUTO, noise=True, extra_turns=4)
    stable = await replay("claude-code", str(tmp_path / "b.db"), {**AUTO, "stabilize": [NOISE_PATTERN]},
                          noise=True, extra_turns=4)
    assert noisy.cache_read == 0                     # every request writes a prefix nobody reads again
    assert stable.cache_read > 0.8 * stable.input_tokens
    assert stable.cost_usd < 0.2 * noisy.cost_usd


def test_breakpoints_mark_tools_system_and_the_last_two_turns_never_more_than_four() -> None:
    body = {"tools": [{"name": "a", "input_schema": {}}, {"name": "b", "input_schema": {}}],
            "system": "You are terse.",
            "messages": [{"role": "user", "content": "one"}, {"role": "assistant", "content": "ok"},
                         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
                         {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": "s"},
                                                           {"type": "text", "text": "done"}]}]}
    out = add_breakpoints(body, "1h")
    assert out is not None and count_marks(out) == 4 and count_marks(body) == 0     # the input is not changed
    assert "cache_control" in out["tools"][1] and "cache_control" not in out["tools"][0]
    assert out["system"] == [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral",
                                                                                          "ttl": "1h"}}]
    assert "cache_control" in out["messages"][0]["content"][0]                      # the previous user turn
    assert "cache_control" in out["messages"][3]["content"][1]                      # never on thinking
    marked = {**body, "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]}
    assert add_breakpoints(marked) is None                                          # the client's own choice


@pytest.mark.parametrize(("api", "body", "where"), [
    ("anthropic.messages", {"system": "Date: 2026-12-03\nBe brief.", "messages": [{"role": "user", "content": "hi"}]},
     lambda b: (b["system"], b["messages"][-1]["content"])),
    ("openai.chat", {"messages": [{"role": "system", "content": "Date: 2026-12-03\nBe brief."},
                                  {"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
     lambda b: (b["messages"][0]["content"], b["messages"][-1]["content"][-1]["text"])),
    ("openai.responses", {"instructions": "Date: 2026-12-03\nBe brief.", "input": "hi"},
     lambda b: (b["instructions"], b["input"])),
    ("gemini.generate_content", {"systemInstruction": {"parts": [{"text": "Date: 2026-12-03\nBe brief."}]},
                                 "contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
     lambda b: (b["systemInstruction"]["parts"][0]["text"], b["contents"][-1]["parts"][-1]["text"])),
])
def test_stabiliser_per_format(api, body, where) -> None:
    out = stabilize(body, api, [r"Date: \d{4}-\d{2}-\d{2}\n"])
    system, tail = where(out)
    assert system == "Be brief."
    assert NOTE in str(tail) and "Date: 2026-12-03" in str(tail)
    assert stabilize(body, api, [r"no such text"]) is None


def test_the_fake_caches_only_marked_prefixes_of_at_least_1024_tokens() -> None:
    cache = PrefixCache()
    big = {"system": [{"type": "text", "text": "x" * 8000, "cache_control": {"type": "ephemeral"}}],
           "messages": [{"role": "user", "content": "hi"}]}
    fresh, read, written = cache.usage(big)
    assert read == 0 and written >= 1024 and fresh < 20
    assert cache.usage(big)[1] == written                                   # the same prefix: read back
    small = {"system": [{"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral"}}],
             "messages": [{"role": "user", "content": "hi"}]}
    assert cache.usage(small)[2] == 0 and cache.usage(small)[1] == 0        # too short to cache
