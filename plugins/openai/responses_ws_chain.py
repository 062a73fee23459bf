"""One WebSocket's Responses state: its ``response.create`` messages and the chain they continue.

Pure functions and one small class, no I/O. A message is a Responses request body plus
``"type": "response.create"`` (Open Responses, WebSocket transport). What the gateway does to
it before it runs through the HTTP pipeline:

* ``type`` goes (it is not a request field), so does ``generate: true`` (the default; ``false``
  asks for a warm-up, plugins/openai/responses_ws_warmup.py); ``stream`` and ``stream_options`` go too: a
  WebSocket turn always streams (the spec says clients must not send them; Codex sends
  ``stream: true`` anyway, so they are ignored rather than refused). ``background`` stays, and
  the Responses validation refuses it as over HTTP.
* ``previous_response_id`` naming the socket's last response (kept in connection-local memory
  by :class:`SocketChain`, also for ``store: false``) is resolved here: the input becomes that
  response's whole conversation (its input, then its output) followed by the new items, and
  the id is left out of the request, which then runs as a stateless one on every provider.
  Replayed output items lose their ``id`` (a provider that keeps no state cannot look them
  up, and OpenAI would want each one's reasoning item beside it) and reasoning items without
  ``encrypted_content`` are left out: with ``store: false`` OpenAI can only take reasoning back
  encrypted (those keep their id, which OpenAI requires on a reasoning item). Any other id takes the HTTP route's way
  (the Responses store, OpenAI's own state, or ``previous_response_not_found``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.errors import RequestRejected

CREATE = "response.create"
#: HTTP-only fields: ignored on a WebSocket (the turn streams whatever they say)
TRANSPORT_FIELDS = ("stream", "stream_options")


def create_body(text: str | bytes) -> dict[str, Any]:
    """The request body of one ``response.create`` message; RequestRejected when it is not one."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(f"the message is not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise RequestRejected("the message must be a JSON object with \"type\": \"response.create\"")
    kind = message.get("type")
    if kind != CREATE:
        raise RequestRejected(f"unsupported message type {kind!r}: this socket takes \"response.create\" "
                              "messages, one response at a time", param="type")
    body = {k: v for k, v in message.items() if k != "type" and k not in TRANSPORT_FIELDS}
    if body.get("generate") is not False:
        body.pop("generate", None)           # true is the default; false is a warm-up (responses_ws_warmup.py)
    body["stream"] = True
    return body


def as_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [item for item in value or [] if isinstance(item, dict)]


def replayable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Output items as the input of a stateless request: reasoning only when encrypted (with its
    id, which OpenAI requires on a reasoning item), every other item without its id."""
    out = []
    for item in items:
        if item.get("type") == "reasoning":
            if item.get("encrypted_content"):
                out.append(item)
            continue
        out.append({k: v for k, v in item.items() if k != "id" and not (k == "status" and v is None)})
    return out


@dataclass
class SocketChain:
    """The socket's most recent response: its id and the whole conversation it ends."""

    response_id: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)

    def continues(self, body: dict[str, Any]) -> bool:
        prev = body.get("previous_response_id")
        return bool(prev) and prev == self.response_id

    def expand(self, body: dict[str, Any]) -> dict[str, Any]:
        """*body* with the chain's conversation in front of its input, without the id."""
        expanded = {k: v for k, v in body.items() if k != "previous_response_id"}
        expanded["input"] = [*self.items, *as_items(body.get("input"))]
        return expanded

    def record(self, sent: dict[str, Any], response: dict[str, Any]) -> None:
        """A turn completed: *sent* (the expanded request) and its answer are the new chain."""
        rid = response.get("id")
        if sent.get("previous_response_id") or not isinstance(rid, str) or not rid:
            # continued from state kept elsewhere (the store, OpenAI): this socket does not hold
            # the whole conversation, so a continuation of it takes the HTTP route's way too
            self.response_id, self.items = None, []
            return
        self.response_id = rid
        self.items = [*as_items(sent.get("input")), *replayable(response.get("output") or [])]

    def evict(self, response_id: str | None) -> None:
        """A continuation of *response_id* failed: the spec drops it from the socket's memory."""
        if response_id and response_id == self.response_id:
            self.response_id, self.items = None, []
