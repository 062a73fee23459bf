"""Property tests: text, tool calls and their ids survive every round trip through the pivot."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.anthropic import client as anthropic_client
from plugins.gemini import client as gemini_client
from plugins.anthropic.backend import request_from_chat as chat_to_anthropic
from plugins.gemini.backend import request_from_chat as chat_to_gemini
from proxy.exchange import TranslateOptions
from support.exchanges import exchange

text = st.text(min_size=1, max_size=40)
ident = st.from_regex(r"[A-Za-z0-9_]{6,20}", fullmatch=True)
args = st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                       st.one_of(st.integers(-1000, 1000), st.text(max_size=20), st.booleans()), max_size=4)
call = st.builds(lambda i, n, a: {"id": "call_" + i, "name": "f_" + n, "args": a}, ident, ident, args)


@st.composite
def conversations(draw):  # type: ignore[no-untyped-def]
    msgs = [{"role": "system", "content": draw(text)}, {"role": "user", "content": draw(text)}]
    for _ in range(draw(st.integers(1, 3))):
        calls = draw(st.lists(call, min_size=1, max_size=3, unique_by=lambda c: c["id"]))
        msgs.append({"role": "assistant", "content": draw(st.one_of(st.none(), text)), "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["args"])}}
            for c in calls]})
        msgs += [{"role": "tool", "tool_call_id": c["id"], "content": draw(text)} for c in calls]
        msgs.append({"role": "user", "content": draw(text)})
    return msgs


def facts(messages: list) -> list:
    """What must survive: per message role, text, tool calls (id, name, parsed args), tool results."""
    out = []
    for m in messages:
        if m["role"] == "assistant":
            out.append(("assistant", m.get("content") or "", [(t["id"], t["function"]["name"],
                                                                json.loads(t["function"]["arguments"]))
                                                               for t in m.get("tool_calls") or []]))
        elif m["role"] == "tool":
            out.append(("tool", m["tool_call_id"], m["content"]))
        else:
            c = m["content"]
            out.append((m["role"], c if isinstance(c, str) else "".join(p["text"] for p in c)))
    return out


@settings(max_examples=60, deadline=None)
@given(conversations())
def test_chat_history_survives_anthropic_and_back(messages):
    anth = chat_to_anthropic({"messages": messages}, "m", TranslateOptions())
    back = anthropic_client.request_to_chat({"system": anth["system"], "messages": anth["messages"]},
                                            TranslateOptions())
    assert facts(back["messages"]) == facts(messages)


@settings(max_examples=60, deadline=None)
@given(conversations())
def test_chat_history_survives_gemini_and_back(messages):
    gem = chat_to_gemini({"messages": messages}, "m", TranslateOptions())
    back = gemini_client.request_to_chat(gem, TranslateOptions())
    assert facts(back["messages"]) == facts(messages)


def _stream_through(ex, raw: bytes, step: int) -> bytes:  # type: ignore[no-untyped-def]
    st_ = ex.stream(model="m", request={"stream_options": {"include_usage": True}})
    return b"".join(st_.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + st_.finish()


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.none(), text), st.lists(call, min_size=0, max_size=3, unique_by=lambda c: c["id"]),
       st.integers(1, 50))
def test_streamed_tool_calls_survive_chat_to_anthropic_to_chat(reply, calls, step):
    """A chat stream becomes an Anthropic stream (anthropic_openai) and back (openai_anthropic):
    text, tool ids, names and argument deltas arrive whole and in order, whatever the chunking."""
    chunks = [{"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": reply or ""},
                            "finish_reason": None}]}]
    for i, c in enumerate(calls):
        a = json.dumps(c["args"])
        chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": i, "id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": ""}}]}}]})
        for k in range(0, len(a), 5):
            chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": i, "function": {"arguments": a[k:k + 5]}}]}}]})
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls" if calls else "stop"}]})
    chunks.append({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})
    raw = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    anth = _stream_through(exchange("anthropic.messages", "openai.chat"), raw, step)
    back = _stream_through(exchange("openai.chat", "anthropic.messages"), anth, step)
    got_text, got_calls, finish = "", {}, None
    for line in back.split(b"\n"):
        if not line.startswith(b"data: {"):
            continue
        ev = json.loads(line[6:])
        for ch in ev.get("choices") or []:
            got_text += ch["delta"].get("content") or ""
            finish = ch.get("finish_reason") or finish
            for tc in ch["delta"].get("tool_calls") or []:
                cur = got_calls.setdefault(tc["index"], {"id": None, "name": "", "args": ""})
                cur["id"] = tc.get("id") or cur["id"]
                cur["name"] += tc.get("function", {}).get("name") or ""
                cur["args"] += tc.get("function", {}).get("arguments") or ""
    assert got_text == (reply or "")
    assert [(c["id"], c["name"], json.loads(c["args"])) for _, c in sorted(got_calls.items())] == \
        [(c["id"], c["name"], c["args"]) for c in calls]
    assert finish == ("tool_calls" if calls else "stop")


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.none(), text), st.lists(call, min_size=0, max_size=3, unique_by=lambda c: c["id"]))
def test_responses_survive_gemini_client_and_chat_backend(reply, calls):
    """A chat completion served to a Gemini client (gemini_openai) and a Gemini reply served to a chat
    client (openai_gemini) keep text, call ids, names and arguments."""
    msg = {"role": "assistant", "content": reply, "tool_calls": [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["args"])}}
        for c in calls] or None}
    chat = {"id": "chatcmpl-1", "choices": [{"index": 0, "message": msg,
                                             "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    gem = exchange("gemini.generate", "openai.chat").response(chat, model="m", request={})
    back = exchange("openai.chat", "gemini.generate").response(gem, model="m", request={})
    m = back["choices"][0]["message"]
    assert (m["content"] or "") == (reply or "")
    assert [(t["id"], t["function"]["name"], json.loads(t["function"]["arguments"]))
            for t in m.get("tool_calls") or []] == [(c["id"], c["name"], c["args"]) for c in calls]
    assert back["choices"][0]["finish_reason"] == ("tool_calls" if calls else "stop")
