"""OAuth access tokens for Google Cloud (Vertex AI), minted with google-auth, refreshed ahead of expiry.

Tokens live about an hour. Once a token is in its last stretch (5 minutes,
or a quarter of its lifetime if that is shorter) the next request starts a
refresh in the background and goes on with the still valid token. Only
when there is no valid token at all does a request wait, and then on the
single refresh in flight that every concurrent request shares: no request
waits on more than one refresh. google-auth refreshes with blocking HTTP, so
it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from proxy.errors import UpstreamUnavailable

log = logging.getLogger("relaygate.google_tokens")

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
REFRESH_MARGIN_SECONDS = 300.0
RETRY_AFTER_FAILURE_SECONDS = 10.0


def load_credentials(credentials_file: str | None, token_uri: str | None) -> tuple[Any, str | None]:
    """(credentials, project id) from a service-account (or other) JSON file, else ADC.

    ADC may probe the GCE metadata server, so call this from a thread.
    """
    import json

    import google.auth

    if credentials_file:
        with open(credentials_file) as f:
            info = json.load(f)
        if token_uri:
            info["token_uri"] = token_uri
        creds, project = google.auth.load_credentials_from_dict(info, scopes=list(SCOPES))
        return creds, project or info.get("project_id")
    creds, project = google.auth.default(scopes=list(SCOPES))
    if token_uri and hasattr(creds, "_token_uri"):
        creds._token_uri = token_uri        # no public setter; tests and private endpoints need it
    return creds, project


def _expiry_timestamp(creds: Any, now: float) -> float:
    expiry = getattr(creds, "expiry", None)
    if expiry is None:
        return now + 3600.0
    return expiry.replace(tzinfo=UTC).timestamp() if expiry.tzinfo is None else expiry.timestamp()


class AccessTokens:
    """A shared, self-refreshing access token.

    :param load: returns google-auth credentials (called once, in a thread)
    :param clock: wall-clock seconds (google-auth expiries are wall-clock)
    """

    def __init__(self, load: Callable[[], Any], *, name: str = "", clock: Callable[[], float] = time.time,
                 margin: float = REFRESH_MARGIN_SECONDS) -> None:
        self._load = load
        self._name = name
        self._clock = clock
        self._margin = margin
        self._creds: Any = None
        self._transport: Any = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._refresh_at = 0.0
        self._retry_at = 0.0
        self._inflight: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self.refreshes = 0

    @property
    def current(self) -> str | None:
        """The access token last minted (None before the first): what an error body could quote."""
        return self._token

    async def token(self) -> str:
        now = self._clock()
        if self._token is not None and now < self._expires_at:
            if now >= self._refresh_at and self._inflight is None and now >= self._retry_at:
                self._start()                   # in the background: this token still works
            return self._token
        await asyncio.shield(self._inflight or self._start())
        if self._token is None or self._clock() >= self._expires_at:
            why = type(self._error).__name__ if self._error else "no token"
            raise UpstreamUnavailable(f"provider {self._name!r}: cannot obtain a Google access token ({why})")
        return self._token

    def _start(self) -> asyncio.Task[None]:
        self._inflight = asyncio.get_running_loop().create_task(self._refresh())
        return self._inflight

    async def _refresh(self) -> None:
        try:
            token, expires_at, lifetime = await asyncio.to_thread(self._refresh_blocking)
            # Assigned here, on the loop, never from the worker thread.
            self._token, self._expires_at = token, expires_at
            self._refresh_at = expires_at - min(self._margin, lifetime / 4)
            self._error = None
            self.refreshes += 1
        except Exception as exc:        # kept for the waiters; a background failure is retried later
            self._error = exc
            self._retry_at = self._clock() + RETRY_AFTER_FAILURE_SECONDS
            log.warning("provider %r: refreshing the Google access token failed: %s", self._name, exc)
        finally:
            self._inflight = None

    def _refresh_blocking(self) -> tuple[str, float, float]:
        if self._creds is None:
            import google.auth.transport.requests
            import requests

            self._creds = self._load()
            # The token request carries a signed assertion: never re-send it where a redirect points.
            session = requests.Session()
            session.max_redirects = 0
            self._transport = google.auth.transport.requests.Request(session)
        started = self._clock()
        self._creds.refresh(self._transport)
        expires_at = _expiry_timestamp(self._creds, started)
        return self._creds.token, expires_at, max(0.0, expires_at - started)

    async def close(self) -> None:
        task = self._inflight
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
