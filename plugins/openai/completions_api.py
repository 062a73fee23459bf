"""The legacy OpenAI Completions wire format (``openai.completions``).

One request may carry several prompts (a list of strings or of token arrays);
each gets ``n`` choices. Validation follows the reference (sampling ranges,
``stop``, ``echo``, ``suffix``, ``logprobs`` 0-5, ``error_behavior``,
``use_raw_prompt``); the reference-only fields are stripped for providers
that do not know them (:mod:`plugins.unified.reference_params`). Every stream
is metered: usage is requested upstream and hidden from a client that did
not ask for it, as for chat.
"""

from __future__ import annotations

from typing import Any

from proxy.checks import boolean, int_at_least, is_int, number_in, object_field, one_of, stop_sequences
from plugins.openai.chat_api import OpenAIStyleApi
from plugins.openai.schemas import COMPLETIONS
from proxy import hookimpl
from proxy.apis import ApiRegistry
from proxy.errors import RequestRejected

MAX_PROMPTS = 2048


def _is_tokens(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(is_int(t) for t in v)


def prompt_count(prompt: Any) -> int:
    """How many independent prompts *prompt* holds (a token array is one)."""
    if isinstance(prompt, str) or _is_tokens(prompt):
        return 1
    return len(prompt) if isinstance(prompt, list) else 0


def _prompt(value: Any) -> None:
    if isinstance(value, str) or _is_tokens(value):
        return
    if not isinstance(value, list) or not value:
        raise RequestRejected("'prompt' is required: a string or a list of prompts", param="prompt")
    if len(value) > MAX_PROMPTS:
        raise RequestRejected(f"'prompt' allows at most {MAX_PROMPTS} prompts, got {len(value)}", param="prompt")
    for i, p in enumerate(value):
        if not isinstance(p, str) and not _is_tokens(p):
            raise RequestRejected(f"'prompt[{i}]' must be a string or a list of token ids", param=f"prompt[{i}]")


class OpenAICompletions(OpenAIStyleApi):
    id = "openai.completions"
    request_schema = COMPLETIONS
    capped = (("n", "max_n"), ("best_of", "max_n"), ("max_tokens", "max_output_tokens"))

    def validate(self, body: dict[str, Any], *, strict: bool) -> None:
        _prompt(body.get("prompt"))
        number_in(body, "temperature", 0, 2)
        number_in(body, "top_p", 0, 1, lo_open=True)
        number_in(body, "presence_penalty", -2, 2)
        number_in(body, "frequency_penalty", -2, 2)
        int_at_least(body, "top_k", 1)
        int_at_least(body, "max_tokens", 1)
        int_at_least(body, "n", 1)
        int_at_least(body, "best_of", 1)
        int_at_least(body, "logprobs", 0, 5)
        int_at_least(body, "seed", -(1 << 63))
        for name in ("stream", "echo", "use_raw_prompt"):
            boolean(body, name)
        stop_sequences(body)
        one_of(body, "error_behavior", ("truncate", "error"))
        suffix = body.get("suffix")
        if suffix is not None and not isinstance(suffix, str):
            raise RequestRejected("'suffix' must be a string", param="suffix")
        object_field(body, "logit_bias")
        if object_field(body, "stream_options") is not None and body.get("stream") is not True:
            raise RequestRejected("'stream_options' is only allowed when 'stream' is true", param="stream_options")
        best_of, n = body.get("best_of"), body.get("n")
        if is_int(best_of) and is_int(n) and best_of < n:
            raise RequestRejected("'best_of' must be at least 'n'", param="best_of")

    def max_output_tokens(self, body: dict[str, Any]) -> int:
        v, n = body.get("max_tokens"), body.get("n")
        per_prompt = v * (n if is_int(n) else 1) if is_int(v) else 0
        return per_prompt * max(1, prompt_count(body.get("prompt")))


@hookimpl
def relaygate_register_apis(registry: ApiRegistry) -> None:
    registry.add(OpenAICompletions())
