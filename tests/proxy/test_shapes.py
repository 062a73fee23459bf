"""Request shapes (proxy/shapes.py): the first wrong field, named by its path, before any translator reads it."""

from __future__ import annotations

import pytest

from proxy.errors import RequestRejected
from proxy.shapes import COUNT, STRING, array, check, nullable, obj, tagged

PART = {"anyOf": [tagged("text", {"text": STRING}, required=("text",)),
                  tagged("image_url", {"image_url": obj({"url": STRING}, required=("url",))}),
                  obj({"type": STRING}, required=("type",))]}
SCHEMA = obj({
    "messages": array(obj({"role": STRING, "content": {"anyOf": [STRING, array(PART), {"type": "null"}]},
                           "tool_calls": nullable(array(obj({"id": STRING})))}, required=("role",))),
    "n": nullable(COUNT),
    "stop": {"anyOf": [STRING, array(STRING, maxItems=2)]},
})


def param_of(body: dict) -> str | None:
    try:
        check(body, SCHEMA)
    except RequestRejected as exc:
        return exc.param
    return None


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": [{"role": "user", "content": "hi"}], "n": None, "stop": "x"}, None),
    ({"messages": [{"role": "user", "content": [{"type": "future_part", "x": 1}]}]}, None),   # unknown parts pass
    ({"messages": [{"role": "user", "extra": {"anything": True}}]}, None),                      # unknown keys pass
    ({"messages": {"role": "user"}}, "messages"),
    ({"messages": [{"content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"id": ["x"]}]}]}, "messages[0].tool_calls[0].id"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": []}]}]},
     "messages[0].content[0].image_url"),
    ({"messages": [{"role": "user", "content": ["just a string"]}]}, "messages[0].content[0]"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"n": 1.7e19}, "n"),
    ({"n": True}, "n"),
    ({"n": -1}, "n"),
    ({"stop": ["a", "b", "c"]}, "stop"),
])
def test_the_first_wrong_field_is_named_by_its_path(body, param):
    assert param_of(body) == param


def test_messages_say_what_was_expected():
    with pytest.raises(RequestRejected) as exc:
        check({"messages": [{"role": "user", "content": 5}]}, SCHEMA)
    assert exc.value.message == "'messages[0].content' must be a string or a list or null, got a number"
    with pytest.raises(RequestRejected) as exc:
        check({"n": 2**40}, SCHEMA)
    assert exc.value.message == "'n' must be at most 2147483647, got 1099511627776"
