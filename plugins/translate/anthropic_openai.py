"""Client speaks Anthropic Messages; backend is OpenAI Chat Completions."""

from __future__ import annotations

from plugins.translate.convert import anthropic, chat
from plugins.translate.pair import Pair

PAIR = Pair(anthropic.CLIENT, chat.BACKEND)
translate_request = PAIR.translate_request
translate_response = PAIR.translate_response
translate_error = PAIR.translate_error
StreamTranslator = PAIR.StreamTranslator
