"""pytest fixtures for the fake upstreams (imported into tests/conftest.py).

Each fake is a real aiohttp server on 127.0.0.1 started for one test and stopped after it.
"""
from __future__ import annotations

import pytest_asyncio

from .fake_anthropic import FakeAnthropic
from .fake_gemini import FakeGemini, write_service_account_file
from .fake_openai import FakeOpenAI

__all__ = ["fake_openai", "fake_anthropic", "fake_gemini", "gcp_service_account_file", "fake_issuer"]


@pytest_asyncio.fixture
async def fake_openai():
    fake = await FakeOpenAI().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture
async def fake_anthropic():
    fake = await FakeAnthropic().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture
async def fake_gemini():
    fake = await FakeGemini().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture
async def gcp_service_account_file(fake_gemini, tmp_path):
    """Path of a service-account JSON whose token_uri is ``fake_gemini.token_uri``."""
    return write_service_account_file(tmp_path / "service-account.json", fake_gemini.token_uri)


@pytest_asyncio.fixture
async def fake_issuer():
    """A fake OpenID Connect issuer on loopback (tests/support/fake_oidc.py)."""
    from .fake_oidc import FakeIssuer

    issuer = await FakeIssuer().start()
    try:
        yield issuer
    finally:
        await issuer.stop()
