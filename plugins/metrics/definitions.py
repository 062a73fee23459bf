"""Every Prometheus metric the gateway exports, defined in one place.

Names follow Prometheus conventions: base units (seconds), ``_total`` counters,
histograms whose buckets fit LLM latencies. Labels are bounded: endpoint,
served model, provider, surface, status, token type, reason. Never a user, and a
key only in the prompt-cache series when ``metrics.prompt_cache_by_key`` is on (its
non-secret id or name, capped by ``metrics.max_keys``: later keys count as ``other``). ``model`` is the provider
model actually served (on a wildcard endpoint the one the client asked for): the
one label a client chooses, so each endpoint keeps at most
``metrics.max_models_per_endpoint`` values and counts the rest as ``other``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Request latency: LLM calls run from tens of milliseconds to many minutes.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
#: Time to first token: usually under a few seconds, reasoning models up to minutes.
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60)

REQUEST_LABELS = ("surface", "endpoint", "served_model", "provider", "model", "status")
ROUTE_LABELS = ("surface", "endpoint", "served_model", "provider", "model")
#: one provider call: the served model of the config and the provider model it called
MODEL_LABELS = ("endpoint", "served_model", "provider", "model")
#: what the resilience machinery works on: the configured served model
SERVED_LABELS = ("endpoint", "served_model", "provider")
#: the model label of requests beyond an endpoint's max_models_per_endpoint
OTHER_MODEL = "other"
#: the key label of keys beyond metrics.max_keys
OTHER_KEY = "other"


class Metrics:
    """The gateway's metric families, registered in *registry*."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "relaygate_requests", "Requests answered by the gateway, by outcome.",
            REQUEST_LABELS, registry=registry)
        self.request_duration = Histogram(
            "relaygate_request_duration_seconds", "Time from request arrival to the last byte sent.",
            ROUTE_LABELS, buckets=DURATION_BUCKETS, registry=registry)
        self.ttft = Histogram(
            "relaygate_time_to_first_token_seconds",
            "Time from request arrival to the first response byte from the provider.",
            ROUTE_LABELS, buckets=TTFT_BUCKETS, registry=registry)
        self.upstream_duration = Histogram(
            "relaygate_upstream_duration_seconds", "Duration of each provider call (one per attempt).",
            MODEL_LABELS, buckets=DURATION_BUCKETS, registry=registry)
        self.tokens = Counter(
            "relaygate_tokens", "Tokens metered, by kind (input, output, cached_input, cache_creation, "
            "cache_creation_1h, reasoning).",
            (*MODEL_LABELS, "type"), registry=registry)
        self.prompt_cache_tokens = Counter(
            "relaygate_prompt_cache_tokens", "Input tokens by how the provider's prompt cache served them "
            "(read: a cache hit, write: cached now, uncached), per agent kind and, with metrics.prompt_cache_by_key, "
            "per gateway key: the hit ratio is read / (read + write + uncached).", ("key", "agent", "type"),
            registry=registry)
        self.response_cache = Counter(
            "relaygate_response_cache_requests", "Requests on endpoints with a response cache, by result "
            "(hit, miss, bypass, error: the cache backend failed and the provider answered).",
            ("endpoint", "result"), registry=registry)
        self.response_cache_saved = Counter(
            "relaygate_response_cache_saved_usd", "What the provider calls the response cache answered "
            "instead would have cost, in US dollars.", ("endpoint",), registry=registry)
        self.cost = Counter(
            "relaygate_cost_usd", "Spend at the config's or the price catalogue's prices, in US dollars.",
            MODEL_LABELS, registry=registry)
        self.unpriced = Counter(
            "relaygate_unpriced_requests", "Provider calls that used tokens of a model with no known price "
            "(cost unknown: NULL in the ledger).", ("endpoint", "model"), registry=registry)
        self.model_label_overflow = Counter(
            "relaygate_model_label_overflow", "Requests counted under model=\"other\" because their endpoint "
            "already has metrics.max_models_per_endpoint model values.", ("endpoint",), registry=registry)
        self.upstream_errors = Counter(
            "relaygate_upstream_errors", "Failed provider calls, by reason (status code, timeout, connect, protocol).",
            (*MODEL_LABELS, "reason"), registry=registry)
        self.in_flight = Gauge(
            "relaygate_in_flight_requests", "Requests being handled right now.",
            ("surface",), registry=registry, multiprocess_mode="livesum")
        self.in_flight_streams = Gauge(
            "relaygate_in_flight_streams", "Streaming responses open right now.",
            ("surface",), registry=registry, multiprocess_mode="livesum")
        self.rate_limited = Counter(
            "relaygate_rate_limited_requests", "Requests refused by a rate limit or budget.",
            ("surface", "endpoint", "limit"), registry=registry)
        self.retries = Counter(
            "relaygate_retries", "Provider call retries and fallbacks, by the failed served model and reason.",
            (*SERVED_LABELS, "reason"), registry=registry)
        self.fallbacks = Counter(
            "relaygate_fallbacks", "Requests moved from a failed served model to the next in the fallback order.",
            (*SERVED_LABELS, "reason"), registry=registry)
        self.retry_budget_exhausted = Counter(
            "relaygate_retry_budget_exhausted", "Retries not made because the global retry budget was spent.",
            ("endpoint",), registry=registry)
        self.circuit_state = Gauge(
            "relaygate_circuit_state", "Circuit breaker state per served model (its worst provider model): "
            "0 closed, 1 half-open, 2 open.",
            SERVED_LABELS, registry=registry, multiprocess_mode="livemax")
        self.dropped_params = Counter(
            "relaygate_dropped_parameters", "Request parameters dropped because the target cannot express them.",
            ("endpoint", "parameter"), registry=registry)
        self.ledger_pending = Gauge(
            "relaygate_ledger_pending_rows", "Ledger rows waiting to be written.",
            registry=registry, multiprocess_mode="livesum")
        self.ledger_lag = Gauge(
            "relaygate_ledger_lag_seconds", "Age of the oldest ledger row not yet written.",
            registry=registry, multiprocess_mode="livemax")
        self.dependency_up = Gauge(
            "relaygate_dependency_up", "Whether a dependency answers its health check (1) or not (0): Redis "
            "(limits_redis), the ledger store, the key store. See /healthz.",
            ("dependency",), registry=registry, multiprocess_mode="livemin")
        self.ledger_write_errors = Counter(
            "relaygate_ledger_write_errors", "Failed ledger batch writes (rows are kept and retried).",
            registry=registry)
        self.config_reloads = Counter(
            "relaygate_config_reloads", "Configuration reloads, by result (success, failure).",
            ("result",), registry=registry)
        self.agent_requests = Counter(
            "relaygate_agent_requests",
            "Requests by coding-agent kind (claude_code, codex, gemini_cli, opencode, sdk, other).",
            ("agent", "surface"), registry=registry)
