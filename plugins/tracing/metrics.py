"""GenAI client metrics over OTLP, one measurement per provider attempt (beside the Prometheus
endpoint, which keeps its own families): ``gen_ai.client.token.usage``,
``gen_ai.client.operation.duration`` and ``gen_ai.client.operation.time_to_first_chunk``, with the
conventions' attributes and advised bucket boundaries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins.tracing import conventions as sc

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

    from proxy.context import UsageRecord

#: the conventions' advice: seconds, doubling from 10 ms; tokens, powers of 4
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
TTFC_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


class GenAIMetrics:
    def __init__(self, meter: Meter) -> None:
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk", unit="s",
            description="Time from the request to the provider until the first chunk of its streamed answer.",
            explicit_bucket_boundaries_advisory=TTFC_BUCKETS)

    def record(self, record: UsageRecord, attributes: dict[str, Any], first_chunk_s: float | None) -> None:
        """One attempt: *attributes* are its low-cardinality GenAI attributes (operation, provider,
        models, server, error.type)."""
        self.duration.record(record.upstream_s, attributes)
        if first_chunk_s is not None:
            self.first_chunk.record(first_chunk_s, attributes)
        u = record.usage
        if u.input_tokens or u.output_tokens:
            self.tokens.record(u.input_tokens, {**attributes, sc.TOKEN_TYPE: "input"})
            self.tokens.record(u.output_tokens, {**attributes, sc.TOKEN_TYPE: "output"})
