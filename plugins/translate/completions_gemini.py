"""Client speaks OpenAI legacy completions; backend is Gemini (through the chat pivot)."""

from __future__ import annotations

from plugins.translate.convert import gemini, completions_client
from plugins.translate.pair import Pair

PAIR = Pair(completions_client.CLIENT, gemini.BACKEND)
translate_request = PAIR.translate_request
translate_response = PAIR.translate_response
translate_error = PAIR.translate_error
StreamTranslator = PAIR.StreamTranslator
