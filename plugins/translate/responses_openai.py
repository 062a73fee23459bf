"""Client speaks OpenAI Responses; backend is OpenAI Chat Completions (vLLM, any chat server)."""

from __future__ import annotations

from plugins.translate.convert import chat, responses_client
from plugins.translate.pair import Pair

PAIR = Pair(responses_client.CLIENT, chat.BACKEND)
translate_request = PAIR.translate_request
translate_response = PAIR.translate_response
translate_error = PAIR.translate_error
StreamTranslator = PAIR.StreamTranslator
