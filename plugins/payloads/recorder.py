"""Payload logging (opt-in per endpoint): request and response bodies to the ledger's store.

A sampled request gets a capture (``ctx.stash[proxy.upstream.RESPONSE_CAPTURE]``) that
keeps a copy of what the client is sent, up to the cap plus a margin (so a
secret cut at the cap is still recognised by the regexes). When the attempt
is recorded, a closure goes to the payload writer; redaction, serialisation
and the cap run at flush time, off the request path. A stream is redacted as a
whole (plugins/payloads/stream_redact.py), so a secret split across events does
not survive in the stored events. Headers are never stored.
"""

from __future__ import annotations

import functools
import random
from typing import TYPE_CHECKING, Any

from plugins.metering.ledger import PAYLOAD_WRITER
from plugins.payloads.config import PayloadLoggingConfig
from plugins.payloads.redact import cap, render
from plugins.payloads.stream_redact import redact_stream
from proxy import hookimpl
from proxy.hooks import active_when
from proxy.stash import StashKey
from proxy.upstream import RESPONSE_CAPTURE

if TYPE_CHECKING:
    from proxy.config import EndpointConfig
    from proxy.gateway import Gateway
    from collections.abc import Callable

    from proxy.context import RequestContext, UsageRecord
    from proxy.sections import Spec

_MARGIN = 4096
#: the endpoint's payload logging settings, for a sampled request
_CONFIG: StashKey[PayloadLoggingConfig] = StashKey("payloads.config")


class Capture:
    """Collects the bytes sent to the client, up to *limit*."""

    __slots__ = ("parts", "size", "limit", "truncated")

    def __init__(self, limit: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.truncated = False

    def __call__(self, chunk: bytes) -> None:
        room = self.limit - self.size
        if room <= 0:
            self.truncated = True
            return
        if len(chunk) > room:
            chunk, self.truncated = chunk[:room], True
        self.parts.append(bytes(chunk))
        self.size += len(chunk)

    def take(self) -> tuple[bytes, bool]:
        """What was captured for this attempt; starts afresh for a retry."""
        data, cut = b"".join(self.parts), self.truncated
        self.parts, self.size, self.truncated = [], 0, False
        return data, cut


def row(record: UsageRecord, body: Any, response: bytes, cut: bool, cfg: PayloadLoggingConfig) -> tuple[Any, ...]:
    paths, patterns = tuple(cfg.redact.json_paths), tuple(cfg.redact.patterns)
    request_text, request_cut = render(body, paths, patterns, cfg.max_bytes)
    if record.stream:
        # A stream is redacted as a whole: a secret split across events is still one match.
        response_text, response_cut = cap(redact_stream(response, paths, patterns), cfg.max_bytes)
        response_cut = response_cut or cut
    else:
        response_text, response_cut = render(response, paths, patterns, cfg.max_bytes, already_cut=cut)
    return (record.request_id, record.attempt, record.started_wall, record.endpoint, record.key_id,
            int(record.stream), request_text, response_text, int(request_cut), int(response_cut))


@hookimpl
def relaygate_endpoint_fields() -> dict[str, Spec]:
    return {"payload_logging": PayloadLoggingConfig}


def _sampling(gateway: Gateway, endpoint: EndpointConfig | None) -> bool:
    cfg = getattr(endpoint, "payload_logging", None)
    return cfg is not None and cfg.enabled


@hookimpl
@active_when(_sampling)
def relaygate_validate_request(ctx: RequestContext) -> None:
    cfg = ctx.endpoint.payload_logging if ctx.endpoint is not None else None  # type: ignore[attr-defined]
    if cfg is None or not cfg.enabled or random.random() >= cfg.sample_rate:
        return
    # Annotated: mypy matches a callable class to the key's Callable type only through a variable.
    tap: Callable[[bytes], None] = Capture(cfg.max_bytes + _MARGIN)
    ctx.stash[RESPONSE_CAPTURE] = tap
    ctx.stash[_CONFIG] = cfg


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    capture = ctx.stash.get(RESPONSE_CAPTURE)
    writer = ctx.gateway.stash.get(PAYLOAD_WRITER)
    if not isinstance(capture, Capture) or writer is None:      # None, or another plugin's tap
        return
    response, cut = capture.take()
    writer.add(functools.partial(row, record, ctx.body, response, cut, ctx.stash[_CONFIG]))
