"""A gateway with the console on, real ledger rows in it, and headless Chromium (Debian's
``chromium`` + ``chromium-driver``) driven through Selenium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from support.fake_oidc import AUDIENCE, CLIENT_ID
from support.gateway import TEST_KEY, openai_config

ADMIN = "rg-console-admin-token-0123456789"
CHROMIUM = os.environ.get("RELAYGATE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RELAYGATE_CHROMEDRIVER", "/usr/bin/chromedriver")


def console_config(upstream: str, issuer_url: str) -> dict[str, Any]:
    cfg = openai_config(upstream)
    # dear enough that the charts and budgets show readable sums (USD per million tokens)
    cfg["endpoints"]["chat"]["served_models"][0]["prices"] = {"input": 1000.0, "output": 4000.0}
    cfg["keys"].append({"name": "research-key", "key": "rg-research-key-0123456789", "owner": "rita",
                        "team": "research"})
    cfg["admin"] = {"token": ADMIN, "sso_admin_groups": ["platform"], "sso_viewer_groups": ["finance"]}
    cfg["auth"] = {"jwt": {"issuers": [{"name": "corp", "issuer": issuer_url, "audiences": [AUDIENCE],
                                        "client_id": CLIENT_ID}]}}
    cfg["limits"] = {"rules": [{"scope": "group", "match": "ml-eng", "tokens_per_minute": 200_000}],
                     "budgets": [{"scope": "team", "match": "*", "usd_per_day": 5},
                                 {"scope": "group", "match": "ml-eng", "usd_per_month": 100}]}
    return cfg


async def make_traffic(url: str, tokens: list[str]) -> None:
    """Real requests through the gateway: the ledger rows the console charts."""
    body = orjson.dumps({"model": "chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 64})
    async with aiohttp.ClientSession() as s:
        for token in [TEST_KEY, TEST_KEY, "rg-research-key-0123456789", *tokens]:
            async with s.post(url + "/v1/chat/completions", data=body, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as r:
                assert r.status == 200, await r.text()


def require_chromium() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        message = f"headless Chromium is missing ({', '.join(missing)}): apt-get install chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def make_driver() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    return driver


def screenshot_dir(tmp_path: Path) -> Path:
    """Where the run saves its screenshots: $RELAYGATE_CONSOLE_SCREENSHOTS, else the test's tmp dir."""
    folder = Path(os.environ.get("RELAYGATE_CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
