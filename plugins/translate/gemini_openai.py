"""Client speaks Gemini generateContent; backend is OpenAI Chat Completions."""

from __future__ import annotations

from plugins.translate.convert import chat, gemini_client
from plugins.translate.pair import Pair

PAIR = Pair(gemini_client.CLIENT, chat.BACKEND)
translate_request = PAIR.translate_request
translate_response = PAIR.translate_response
translate_error = PAIR.translate_error
StreamTranslator = PAIR.StreamTranslator
