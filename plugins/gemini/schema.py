"""Shapes of the Gemini request bodies: generateContent, countTokens, embedContent, batchEmbedContents.

The fields the translators read, with their JSON types and the bounds of numbers
the gateway forwards (see :mod:`proxy.shapes`). Proto JSON accepts snake_case
names too, so bodies are checked after :func:`plugins.gemini.client.camel`
(the translators read them that way). Also the request bodies in ``/openapi.json``.
"""

from __future__ import annotations

import re
from typing import Any

from proxy.errors import RequestRejected
from proxy.shapes import BOOLEAN, NUMBER, OBJECT, STRING, Schema, array, nullable, obj
from proxy.shapes import COUNT as JSON_COUNT

#: proto JSON takes an integer as a number or as a decimal string ("101"): both are Gemini's
DECIMAL: Schema = {"type": "string", "pattern": r"\s*-?\d{1,10}\s*"}
COUNT: Schema = {"anyOf": [JSON_COUNT, DECIMAL]}

_BLOB = obj({"mimeType": STRING, "data": STRING})
_FILE = obj({"mimeType": STRING, "fileUri": STRING})
PART: Schema = obj({
    "text": STRING, "thought": BOOLEAN, "thoughtSignature": STRING,
    "inlineData": _BLOB, "fileData": _FILE,
    "functionCall": obj({"id": STRING, "name": STRING, "args": nullable(OBJECT)}),
    "functionResponse": obj({"id": STRING, "name": STRING, "response": nullable(OBJECT)}),
})
CONTENT: Schema = obj({"role": STRING, "parts": array(PART)})

_DECLARATION = obj({"name": STRING, "description": STRING, "parameters": OBJECT, "parametersJsonSchema": OBJECT})
TOOL: Schema = obj({"functionDeclarations": array(_DECLARATION)})
TOOL_CONFIG: Schema = obj({"functionCallingConfig": obj({"mode": STRING, "allowedFunctionNames": array(STRING)})})

GENERATION_CONFIG: Schema = obj({
    "temperature": NUMBER, "topP": NUMBER, "topK": COUNT, "seed": {"anyOf": [{"type": "integer", "minimum": -(2**31),
                                                                           "maximum": 2**31 - 1}, DECIMAL]},
    "presencePenalty": NUMBER, "frequencyPenalty": NUMBER,
    "maxOutputTokens": COUNT, "candidateCount": COUNT,
    "stopSequences": array(STRING), "responseLogprobs": BOOLEAN, "logprobs": COUNT,
    "responseMimeType": STRING, "responseSchema": OBJECT, "responseJsonSchema": OBJECT,
    "responseModalities": array(STRING),
    "thinkingConfig": obj({"thinkingBudget": {"anyOf": [{"type": "integer", "minimum": -1, "maximum": 2**31 - 1},
                                                        DECIMAL]},
                           "thinkingLevel": STRING, "includeThoughts": BOOLEAN}),
})

GENERATE: Schema = obj({
    "contents": array(CONTENT),
    "systemInstruction": {"anyOf": [CONTENT, STRING]},
    "tools": array(TOOL),
    "toolConfig": TOOL_CONFIG,
    "generationConfig": GENERATION_CONFIG,
    "safetySettings": array(OBJECT),
    "cachedContent": STRING,
})

COUNT_TOKENS: Schema = obj({"contents": array(CONTENT), "generateContentRequest": GENERATE})

_EMBED_CONTENT = obj({"content": CONTENT, "taskType": STRING, "title": STRING,
                      "outputDimensionality": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 65536}, DECIMAL,
                                                           {"type": "null"}]}})
EMBED: Schema = _EMBED_CONTENT
BATCH_EMBED: Schema = obj({"requests": array(_EMBED_CONTENT)})


_INTEGER = re.compile(r"-?\d{1,10}")
#: generationConfig's integer fields (and thinkingConfig's budget), as a translation reads them
_INTEGER_FIELDS = ("topK", "seed", "maxOutputTokens", "candidateCount", "logprobs")


def proto_integers(body: dict[str, Any]) -> dict[str, Any]:
    """*body* (camelCase) with generationConfig's decimal-string integers as numbers, as Gemini reads
    them; a string that is not one is a 400 naming it. For translations: other providers take numbers."""
    gc = body.get("generationConfig")
    if not isinstance(gc, dict):
        return body
    gc = dict(gc)
    spots: list[tuple[dict[str, Any], str, str]] = [(gc, k, f"generationConfig.{k}") for k in _INTEGER_FIELDS]
    if isinstance(gc.get("thinkingConfig"), dict):
        gc["thinkingConfig"] = dict(gc["thinkingConfig"])
        spots.append((gc["thinkingConfig"], "thinkingBudget", "generationConfig.thinkingConfig.thinkingBudget"))
    for holder, key, where in spots:
        value = holder.get(key)
        if isinstance(value, str):
            if not _INTEGER.fullmatch(value.strip()) or abs(int(value)) > 2**31 - 1:
                raise RequestRejected(f"'{where}' must be a 32-bit integer, got {value[:20]!r}", param=where)
            holder[key] = int(value)
    return {**body, "generationConfig": gc}
