"""Legacy OpenAI completions as the *client* side: ``prompt`` -> one user message, answers as text_completion.

One prompt string only (a list of prompts is one request per prompt upstream: not expressible in
one call); ``echo``, ``suffix``, ``best_of`` have no chat equivalent and follow the policy.
"""

from __future__ import annotations

from typing import Any

from plugins.translate.pivot import Options, now
from proxy import sse


def request_to_chat(body: dict[str, Any], opts: Options) -> dict[str, Any]:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        else:
            opts.unsupported("prompt", "only a single prompt string translates to a chat model")
            prompt = next((p for p in prompt if isinstance(p, str)), "")
    chat: dict[str, Any] = {"messages": [{"role": "user", "content": prompt or ""}]}
    for name in ("max_tokens", "temperature", "top_p", "top_k", "n", "stop", "seed", "presence_penalty",
                 "frequency_penalty", "user"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("logprobs"):
        chat["logprobs"] = True
        chat["top_logprobs"] = body["logprobs"]
    if body.get("error_behavior") == "truncate":
        opts.unsupported("error_behavior", "a chat model answers a prompt above its context window with an error, "
                                           "never with a truncated answer")
    for name in ("echo", "suffix", "best_of", "logit_bias"):
        if body.get(name):
            opts.unsupported(name, f"{name} has no chat equivalent")
    return chat


def _base(cid: str, model: str) -> dict[str, Any]:
    return {"id": "cmpl-" + cid.removeprefix("chatcmpl-"), "object": "text_completion", "created": now(),
            "model": model}


class CompletionsEmitter:
    def __init__(self, model: str, wants_usage: bool) -> None:
        self.model, self.wants_usage = model, wants_usage
        self.final: dict[str, Any] | None = None
        self._failed = False

    def feed(self, chunks: list[dict[str, Any]]) -> bytes:
        out = []
        for c in chunks:
            if "error" in c:
                self._failed = True
                out.append(sse.data_only({"error": c["error"]}))
                continue
            base = _base(str(c.get("id", "")), self.model)
            if not c.get("choices"):
                if c.get("usage") and self.wants_usage:
                    out.append(sse.data_only({**base, "choices": [], "usage": c["usage"]}))
                continue
            choices = [{"index": ch.get("index", 0), "text": (ch.get("delta") or {}).get("content") or "",
                        "logprobs": None, "finish_reason": ch.get("finish_reason")} for ch in c["choices"]]
            out.append(sse.data_only({**base, "choices": choices}))
        return b"".join(out)

    def finish(self) -> bytes:
        return b"" if self._failed else sse.DONE


class CompletionsClient:
    def request_to_chat(self, body: dict[str, Any], opts: Options) -> dict[str, Any]:
        return request_to_chat(body, opts)

    def response_from_chat(self, chat: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
        choices = [{"index": ch.get("index", 0), "text": (ch.get("message") or {}).get("content") or "",
                    "logprobs": None, "finish_reason": "length" if ch.get("finish_reason") == "length" else "stop"}
                   for ch in chat.get("choices") or []]
        usage = {k: v for k, v in (chat.get("usage") or {}).items() if k in ("prompt_tokens", "completion_tokens",
                                                                              "total_tokens")}
        return {**_base(str(chat.get("id", "")), model), "choices": choices, "usage": usage}

    def error_from_chat(self, status: int, error: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return status, error

    def stream(self, model: str, request: dict[str, Any]) -> CompletionsEmitter:
        return CompletionsEmitter(model, bool((request.get("stream_options") or {}).get("include_usage")))


CLIENT = CompletionsClient()
