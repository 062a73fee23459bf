"""What an attempt answered, read from the bytes the client is sent (``proxy.taps.RESPONSE_TAPS``):
the response id and model, the finish reasons and, when content is captured, the text per choice.

Cheap on streams: a ``data:`` line is parsed only until the id and model are
known and then only when it carries a finish reason (a byte search decides),
unless content is captured. The client's wire format says where things are.
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.sse import JsonArrayParser

#: bytes that mark the stream event carrying the finish reason, per client format
_FINISH_KEYS = {
    "openai.chat": b'"finish_reason"', "openai.completions": b'"finish_reason"',
    "anthropic.messages": b'"stop_reason"', "gemini.generate": b'"finishReason"',
}
_RESPONSES_ENDS = (b"response.completed", b"response.incomplete", b"response.failed")


def _value_follows(payload: bytes, key: bytes) -> bool:
    """True when *key* occurs in *payload* with a value other than null."""
    i = payload.find(key)
    while i >= 0:
        rest = payload[i + len(key):i + len(key) + 12].lstrip(b": \t")
        if rest and not rest.startswith(b"null"):
            return True
        i = payload.find(key, i + 1)
    return False


class Answer:
    """Callable tap for one request; :meth:`reset` starts each attempt afresh."""

    __slots__ = ("api", "text_limit", "id", "model", "finishes", "texts", "_text_size", "_tail", "_stream",
                 "_array", "_meta_seen")

    def __init__(self, api: str, text_limit: int = 0) -> None:
        self.api = api
        self.text_limit = text_limit            # 0: no text kept
        self.reset(stream=False)

    def reset(self, *, stream: bool) -> None:
        self.id = ""
        self.model = ""
        self.finishes: dict[int, str] = {}
        self.texts: dict[int, list[str]] = {}
        self._text_size = 0
        self._tail = b""
        self._stream = stream
        self._array: JsonArrayParser | None = None
        self._meta_seen = False

    @property
    def finish_reasons(self) -> list[str]:
        return [self.finishes[i] for i in sorted(self.finishes)]

    def text_of(self, index: int) -> str:
        return "".join(self.texts.get(index, ()))

    def __call__(self, chunk: bytes) -> None:
        try:
            if not self._stream:
                self._read(orjson.loads(chunk))
            elif self._array is not None or (not self._meta_seen and not self._tail and chunk.lstrip()[:1] == b"["):
                self._array = self._array or JsonArrayParser()       # Gemini's JSON-array stream
                for element in self._array.feed(chunk):
                    self._read(element)
            else:
                self._lines(chunk)
        except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
            pass                                  # what the client got is the client's business: best effort

    def _lines(self, chunk: bytes) -> None:
        data = self._tail + chunk if self._tail else chunk
        cut = data.rfind(b"\n") + 1
        self._tail = data[cut:]
        for line in data[:cut].split(b"\n"):
            if line.startswith(b"data:") and self._wanted(payload := line[5:].strip()):
                self._read(orjson.loads(payload))

    def _wanted(self, payload: bytes) -> bool:
        if not payload.startswith(b"{"):
            return False                          # [DONE]
        if self.text_limit or not self._meta_seen:
            return True
        if self.api == "openai.responses":
            return any(end in payload[:200] for end in _RESPONSES_ENDS)
        key = _FINISH_KEYS.get(self.api)
        return key is not None and _value_follows(payload, key)

    # -- per format
    def _read(self, obj: Any) -> None:
        if not isinstance(obj, dict):
            return
        self._meta_seen = True
        api = self.api
        if api.startswith("openai.") and api != "openai.responses":
            self._meta(obj.get("id"), obj.get("model"))
            for choice in obj.get("choices") or ():
                index = choice.get("index", 0)
                self._finish(index, choice.get("finish_reason"))
                message = choice.get("delta") or choice.get("message") or {}
                self._text(index, choice.get("text") if "text" in choice else message.get("content"))
        elif api == "anthropic.messages":
            self._anthropic(obj)
        elif api == "gemini.generate":
            self._meta(obj.get("responseId"), obj.get("modelVersion"))
            for n, candidate in enumerate(obj.get("candidates") or ()):
                index = candidate.get("index", n)
                self._finish(index, candidate.get("finishReason"))
                for part in (candidate.get("content") or {}).get("parts") or ():
                    if not part.get("thought"):
                        self._text(index, part.get("text"))
        elif api == "openai.responses":
            self._responses(obj)

    def _anthropic(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "message_start":
            obj = obj.get("message") or {}
        if kind in ("message", "message_start"):
            self._meta(obj.get("id"), obj.get("model"))
            self._finish(0, obj.get("stop_reason"))
            for block in obj.get("content") or ():
                if block.get("type") == "text":
                    self._text(0, block.get("text"))
        elif kind == "message_delta":
            self._finish(0, (obj.get("delta") or {}).get("stop_reason"))
        elif kind == "content_block_delta" and (obj.get("delta") or {}).get("type") == "text_delta":
            self._text(0, obj["delta"].get("text"))

    def _responses(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type", "")
        if kind == "response.output_text.delta":
            self._text(0, obj.get("delta"))
            return
        response = obj.get("response") if kind.startswith("response.") else obj
        if not isinstance(response, dict):
            return
        self._meta(response.get("id"), response.get("model"))
        status = response.get("status")
        if status in ("completed", "incomplete", "failed"):
            detail = (response.get("incomplete_details") or {}).get("reason")
            self._finish(0, detail or status)
            if self.text_limit and response.get("output"):
                self.texts.pop(0, None)          # the whole output replaces the deltas
                self._text_size = 0
                for item in response["output"]:
                    for part in item.get("content") or () if item.get("type") == "message" else ():
                        if part.get("type") == "output_text":
                            self._text(0, part.get("text"))

    # -- collecting
    def _meta(self, response_id: Any, model: Any) -> None:
        if isinstance(response_id, str) and response_id and not self.id:
            self.id = response_id
        if isinstance(model, str) and model and not self.model:
            self.model = model

    def _finish(self, index: Any, reason: Any) -> None:
        if isinstance(reason, str) and reason and isinstance(index, int):
            self.finishes[index] = reason

    def _text(self, index: Any, text: Any) -> None:
        if not self.text_limit or not isinstance(text, str) or not text or not isinstance(index, int):
            return
        if self._text_size < self.text_limit:      # a bound on memory; the attribute is capped again later
            self.texts.setdefault(index, []).append(text)
            self._text_size += len(text)
