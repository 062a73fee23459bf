"""Attribute names and values of the OpenTelemetry semantic conventions the spans follow.

GenAI (client inference spans, ``gen_ai.*``) and HTTP server spans, as named by
``opentelemetry-semantic-conventions`` (pinned with the SDK); what the
conventions do not name is ``relaygate.*``. Pure functions of a request.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

# -- GenAI client spans and metrics
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_CHOICES = "gen_ai.request.choice.count"
REQUEST_STREAM = "gen_ai.request.stream"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
CONVERSATION_ID = "gen_ai.conversation.id"
TOKEN_TYPE = "gen_ai.token.type"
INPUT_MESSAGES = "gen_ai.input.messages"            # opt-in content
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

# -- HTTP server spans
HTTP_METHOD = "http.request.method"
HTTP_ROUTE = "http.route"
HTTP_STATUS = "http.response.status_code"
URL_PATH = "url.path"
URL_SCHEME = "url.scheme"
CLIENT_ADDRESS = "client.address"
USER_AGENT = "user_agent.original"

# -- the gateway's own
REQUEST_ID = "relaygate.request_id"
SURFACE = "relaygate.surface"
ENDPOINT = "relaygate.endpoint"
SERVED_MODEL = "relaygate.served_model"
PROVIDER_CONFIG = "relaygate.provider"             # the provider's name in the config
KEY_ID = "relaygate.key.id"
KEY_OWNER = "relaygate.key.owner"
KEY_TEAM = "relaygate.key.team"
AGENT = "relaygate.agent"
ATTEMPT = "relaygate.attempt"
ATTEMPTS = "relaygate.attempts"
ATTEMPT_KIND = "relaygate.attempt.kind"            # first, retry, fallback
ATTEMPT_REASON = "relaygate.attempt.reason"        # why the previous attempt failed
OUTCOME = "relaygate.outcome"
ERROR_REASON = "relaygate.error_reason"            # why the gateway refused (a 4xx is no server error)
TRANSLATED = "relaygate.translated_from"           # the client's wire format, when translated
FIRST_TOKEN_EVENT = "relaygate.first_token"

#: the provider API -> gen_ai.operation.name
_OPERATIONS = {
    "openai.chat": "chat", "openai.responses": "chat", "anthropic.messages": "chat",
    "gemini.generate": "generate_content", "openai.completions": "text_completion",
    "openai.embeddings": "embeddings", "gemini.embed": "embeddings", "gemini.batch_embed": "embeddings",
}
#: the provider type -> gen_ai.provider.name (an OpenAI-compatible server speaks OpenAI's flavour;
#: relaygate.provider and server.address tell which one it is)
_PROVIDERS = {
    "openai": "openai", "openai_compatible": "openai", "azure_openai": "azure.ai.openai",
    "anthropic": "anthropic", "gemini": "gcp.gemini", "vertex": "gcp.vertex_ai",
}


def operation_name(provider_api: str) -> str:
    return _OPERATIONS.get(provider_api) or provider_api.rpartition(".")[2]


def provider_name(kind: str) -> str:
    return _PROVIDERS.get(kind, kind)


@lru_cache(maxsize=256)
def server_of(base_url: str) -> tuple[str, int | None]:
    """(host, port) of a provider's base URL; the port from the scheme when the URL has none."""
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError:
        return "", None
    return parts.hostname or "", port or {"https": 443, "http": 80}.get(parts.scheme)


def split_host(host: str) -> tuple[str, int | None]:
    """(name, port) of a Host header value: ``example.com:8080``, ``[::1]:8080``, ``example.com``."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, sep, port = host.rpartition(":")
        if not sep:
            name, port = host, ""
    return name, int(port) if port.isdigit() else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def request_parameters(client_api: str, body: dict[str, Any], dropped: Any = ()) -> dict[str, Any]:
    """Sampling parameters the client asked for, as gen_ai.request.* (its body is in its own format),
    except those the route *dropped* (the endpoint's ``unsupported_params: drop``): never sent."""
    config = body.get("generationConfig") if client_api.startswith("gemini.") else body
    if not isinstance(config, dict):
        return {}
    found: dict[str, Any] = {}
    for attribute, keys in ((REQUEST_TEMPERATURE, ("temperature",)), (REQUEST_TOP_P, ("top_p", "topP")),
                            (REQUEST_TOP_K, ("top_k", "topK"))):
        for key in keys:
            if key not in dropped and (value := _number(config.get(key))) is not None:
                found[attribute] = value if attribute != REQUEST_TOP_K else int(value)
    count = config.get("n", config.get("candidateCount"))
    if isinstance(count, int) and not isinstance(count, bool) and count != 1:
        found[REQUEST_CHOICES] = count
    return found
