"""Client speaks OpenAI Chat Completions; backend is Gemini generateContent."""

from __future__ import annotations

from plugins.translate.convert import chat, gemini
from plugins.translate.pair import Pair

PAIR = Pair(chat.CLIENT, gemini.BACKEND)
translate_request = PAIR.translate_request
translate_response = PAIR.translate_response
translate_error = PAIR.translate_error
StreamTranslator = PAIR.StreamTranslator
