"""Client speaks OpenAI Responses; backend is Gemini generateContent.

Composed through the chat pivot with full fidelity: everything chat cannot say
(thinking blocks and signatures, Gemini thought signatures) rides in the pivot's
extension fields (see convert/common.py), never dropped on the way."""

from __future__ import annotations

from plugins.translate.convert import gemini, responses_client
from plugins.translate.pair import Pair

PAIR = Pair(responses_client.CLIENT, gemini.BACKEND)
translate_request = PAIR.translate_request
translate_response = PAIR.translate_response
translate_error = PAIR.translate_error
StreamTranslator = PAIR.StreamTranslator
