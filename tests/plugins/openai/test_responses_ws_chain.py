"""The pure parts of WebSocket mode: reading a ``response.create`` message, and the socket's chain."""

from __future__ import annotations

import pytest

from plugins.openai.responses_ws_chain import SocketChain, create_body, replayable
from proxy.errors import RequestRejected


def test_a_message_becomes_a_streamed_request_body():
    body = create_body(b'{"type": "response.create", "model": "m", "input": "hi", "stream": false, '
                       b'"stream_options": {"include_obfuscation": false}, "generate": true}')
    assert body == {"model": "m", "input": "hi", "stream": True}
    assert create_body('{"type": "response.create", "generate": false}')["generate"] is False   # a warm-up


@pytest.mark.parametrize(("text", "param"), [("{", None), ("[]", None), ('{"model": "m"}', "type"),
                                             ('{"type": "response.cancel"}', "type")])
def test_what_is_not_a_response_create_is_refused(text, param):
    with pytest.raises(RequestRejected) as info:
        create_body(text)
    assert info.value.param == param


def test_replayed_output_keeps_encrypted_reasoning_only_and_drops_other_ids():
    items = [{"id": "rs_1", "type": "reasoning", "summary": []},
             {"id": "rs_2", "type": "reasoning", "summary": [], "encrypted_content": "e"},
             {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed", "content": []},
             {"id": "fc_1", "type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]
    assert replayable(items) == [{"id": "rs_2", "type": "reasoning", "summary": [], "encrypted_content": "e"},
                                 {"type": "message", "role": "assistant", "status": "completed", "content": []},
                                 {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]


def test_the_chain_keeps_the_last_response_and_forgets_a_failed_continuation():
    chain = SocketChain()
    first = {"model": "m", "input": "one"}
    chain.record(first, {"id": "resp_1", "output": [{"id": "msg_1", "type": "message", "role": "assistant",
                                                     "content": [{"type": "output_text", "text": "1"}]}]})
    nxt = {"model": "m", "input": "two", "previous_response_id": "resp_1"}
    assert chain.continues(nxt) and not chain.continues({"previous_response_id": "resp_0"})
    expanded = chain.expand(nxt)
    assert "previous_response_id" not in expanded
    assert [i.get("role") for i in expanded["input"]] == ["user", "assistant", "user"]
    chain.evict("resp_other")
    assert chain.continues(nxt)
    chain.evict("resp_1")
    assert not chain.continues(nxt)


def test_a_response_continued_from_state_kept_elsewhere_is_not_remembered():
    chain = SocketChain()
    chain.record({"input": "x", "previous_response_id": "resp_stored"}, {"id": "resp_2", "output": []})
    assert not chain.continues({"previous_response_id": "resp_2"})
