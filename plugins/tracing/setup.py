"""Tracing's start-up and shutdown (always registered; nothing of it runs per request).

Declares ``telemetry:``; at start-up resolves it with the ``OTEL_*`` variables
(:mod:`plugins.tracing.config`) and, only when something asks for telemetry,
builds the SDK objects and registers :mod:`plugins.tracing.spans`, whose hooks
are the per-request part. Off, the gateway calls no tracing code per request.
Read once at start-up: a reload does not change it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

from plugins.tracing.config import TELEMETRY, TelemetryConfig, resolve
from proxy import hookimpl
from proxy.gateway import DEPENDENCY_CHECKS
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.sections import Spec

log = logging.getLogger("relaygate.tracing")
SPANS_PLUGIN = "plugins.tracing.spans"
#: the section telemetry was built from (a reload does not rebuild it)
_STARTED_WITH: StashKey[TelemetryConfig] = StashKey("tracing.started_with")
#: how long shutdown waits for the last spans and metrics to reach the collector
FLUSH_SECONDS = 5.0


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"telemetry": TelemetryConfig}


@hookimpl
def relaygate_startup(gateway: Gateway) -> None:
    config = gateway.stash[_STARTED_WITH] = gateway.settings.section(TelemetryConfig)
    plan = resolve(config, os.environ)
    if not plan.any:
        return                                    # off: no span, no hook per request, not even the SDK imported
    from plugins.tracing import spans
    from plugins.tracing.telemetry import build

    telemetry = build(plan)
    gateway.stash[TELEMETRY] = telemetry
    if plan.traces:
        gateway.stash.setdefault(DEPENDENCY_CHECKS, {})["otlp_exporter"] = telemetry.exporter_up
    if not gateway.pm.is_registered(spans):
        gateway.pm.register(spans, name=SPANS_PLUGIN)
    gateway.hooks.refresh()
    log.info("telemetry on: traces %s, GenAI metrics %s, over OTLP %s to %s%s%s",
             "on" if plan.traces else "off", "on" if plan.metrics else "off", plan.traces_protocol,
             plan.traces_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
             or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "the SDK's default (localhost)",
             "; traceparent to providers" if plan.propagate else "",
             "; prompt and completion content captured" if plan.capture_content else "")


@hookimpl
def relaygate_config_loaded(gateway: Gateway) -> None:
    started = gateway.stash.get(_STARTED_WITH)
    if started is not None and gateway.settings.section(TelemetryConfig) != started:
        log.warning("telemetry: the changed section takes effect at the next start, not on reload")


@hookimpl
async def relaygate_shutdown(gateway: Gateway) -> None:
    telemetry = gateway.stash.pop(TELEMETRY, None)
    if telemetry is None:
        return
    gateway.stash.get(DEPENDENCY_CHECKS, {}).pop("otlp_exporter", None)
    if (spans := gateway.pm.get_plugin(SPANS_PLUGIN)) is not None:
        gateway.pm.unregister(spans)
        gateway.hooks.refresh()
    # The SDK flushes synchronously (the batch thread exports what is queued): not on the event loop.
    try:
        await asyncio.wait_for(asyncio.to_thread(telemetry.close), FLUSH_SECONDS)
    except TimeoutError:
        log.warning("telemetry: the collector took more than %gs; the last spans may be lost", FLUSH_SECONDS)
