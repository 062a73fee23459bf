"""Shared set-up of the tracing tests: a receiver, a gateway exporting to it, and requests."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from support.gateway import TEST_KEY, RunningGateway, openai_config, run_gateway, settings_for

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
CHAT = {"model": "chat", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 50,
        "temperature": 0.2, "top_p": 0.9}
#: every OTEL_* variable a developer's shell might have: the tests set what they need
OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "OTEL_EXPORTER_OTLP_COMPRESSION",
)


def clean_otel_env(monkeypatch: Any) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "20")         # milliseconds: spans leave at once


@asynccontextmanager
async def traced_gateway(tmp_path: Any, config: dict[str, Any], telemetry: dict[str, Any] | None = None):
    """A gateway on *config* with ``telemetry:`` set to *telemetry* (None: no section at all).
    Leaving the block shuts it down, which flushes every span to the receiver."""
    config = dict(config)
    if telemetry is not None:
        config["telemetry"] = telemetry
    async with run_gateway(settings_for(config, ledger_path=str(tmp_path / "ledger.db"))) as gw:
        yield gw


def config_for(base_url: str, **endpoint: Any) -> dict[str, Any]:
    config = openai_config(base_url)
    config["endpoints"]["chat"].update(endpoint)
    return config


def two_model_config(primary_url: str, backup_url: str) -> dict[str, Any]:
    """Endpoint "chat": served model "primary" (two tries), then "backup" as its fallback."""
    return {
        "providers": {"p1": {"type": "openai", "base_url": primary_url, "api_key": "sk-upstream-one"},
                      "p2": {"type": "openai", "base_url": backup_url, "api_key": "sk-upstream-two"}},
        "endpoints": {"chat": {
            "task": "chat", "fallbacks": ["backup"],
            "served_models": [{"name": "primary", "provider": "p1", "model": "gpt-4o-mini", "traffic_percentage": 100},
                              {"name": "backup", "provider": "p2", "model": "gpt-4o", "traffic_percentage": 0}],
            "retry": {"attempts_per_model": 2, "backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05}}},
        "keys": [{"name": "alice-key", "key": TEST_KEY, "owner": "alice"}],
    }


async def post(gw: RunningGateway, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
               ) -> tuple[int, Any, bytes]:
    async with aiohttp.ClientSession() as s, s.post(gw.url + path, json=body,
                                                    headers={**AUTH, **(headers or {})}) as r:
        return r.status, r.headers.copy(), await r.read()      # case-insensitive
