"""Client speaks OpenAI Chat Completions; backend is Anthropic Messages."""

from __future__ import annotations

from plugins.translate.convert import anthropic, chat
from plugins.translate.pair import Pair

PAIR = Pair(chat.CLIENT, anthropic.BACKEND)
translate_request = PAIR.translate_request
translate_response = PAIR.translate_response
translate_error = PAIR.translate_error
StreamTranslator = PAIR.StreamTranslator
