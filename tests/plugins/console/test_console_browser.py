"""The console in real headless Chromium: sign in with the admin token, a chart fed by real
ledger rows, create a key (secret shown once, and it works) and revoke it, a CSRF token
tampered with is refused, the CSP lets nothing inline run, and single sign-on as a viewer.
Screenshots of every page are saved by the run (see console_support.screenshot_dir)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from console_support import ADMIN, console_config, make_driver, make_traffic, require_chromium, screenshot_dir
from support.gateway import run_gateway, settings_for


@pytest.fixture
def driver():
    require_chromium()
    d = make_driver()
    try:
        yield d
    finally:
        d.quit()


async def in_thread(fn, *args):
    """Selenium blocks: run it off the event loop that serves the gateway."""
    return await asyncio.to_thread(fn, *args)


async def test_console_end_to_end(fake_openai, fake_issuer, tmp_path, driver):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    shots = screenshot_dir(tmp_path)
    settings = settings_for(console_config(fake_openai.base_url, fake_issuer.url), ledger_path=str(tmp_path / "l.db"))
    async with run_gateway(settings) as gw:
        hostile = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
        await make_traffic(gw.url, [fake_issuer.mint(sub="u-1", email="ana@example.com", groups=["ml-eng"],
                                                     team="ml"),
                                    fake_issuer.mint(sub="u-2", email=hostile, groups=["ml-eng"], team="ml")])
        await gw.flush_ledger()
        ledger = await gw.ledger_rows()
        spend_by_team: dict[str, float] = {}
        for row in ledger:
            spend_by_team[row["team"]] = spend_by_team.get(row["team"], 0.0) + row["cost_usd"]

        def heading_is(text: str) -> None:
            """After a click the old page's heading may still be there (then stale): wait for the new one."""
            WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
                          ).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == text)

        def sign_in() -> list[float]:
            driver.get(gw.url + "/console/")
            assert driver.current_url.endswith("/console/login")
            driver.save_screenshot(str(shots / "01-sign-in.png"))
            driver.find_element(By.NAME, "token").send_keys(ADMIN)
            driver.find_element(By.CSS_SELECTOR, "form.login button").click()
            heading_is("Usage and spend")
            bars = driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
            driver.save_screenshot(str(shots / "02-usage-by-team.png"))
            return [(b.get_attribute("data-series"), float(b.get_attribute("data-value"))) for b in bars]

        bars = await in_thread(sign_in)
        charted: dict[str, float] = {}
        for series, value in bars:
            charted[series] = charted.get(series, 0.0) + value
        assert charted.keys() == spend_by_team.keys()
        for team, spent in spend_by_team.items():
            assert charted[team] == pytest.approx(spent, rel=1e-6)

        def create_key() -> str:
            driver.get(gw.url + "/console/keys")
            driver.find_element(By.NAME, "name").send_keys("laptop-ana")
            driver.find_element(By.NAME, "owner").send_keys("ana@example.com")
            driver.find_element(By.NAME, "team").send_keys("ml")
            driver.find_element(By.NAME, "expires_days").send_keys("30")
            driver.find_element(By.CSS_SELECTOR, "form.create button").click()
            secret = driver.find_element(By.ID, "new-secret").text
            driver.save_screenshot(str(shots / "03-key-created-secret-shown-once.png"))
            driver.get(gw.url + "/console/keys")                  # shown once: not on the next visit
            assert secret not in driver.page_source
            return secret

        secret = await in_thread(create_key)
        body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64}
        async with aiohttp.ClientSession() as s:
            async with s.post(gw.url + "/v1/chat/completions", json=body,
                              headers={"Authorization": f"Bearer {secret}"}) as r:
                assert r.status == 200

        def tamper_then_revoke() -> None:
            driver.get(gw.url + "/console/keys")
            form = "//tr[td[text()='laptop-ana']]//form"
            driver.execute_script("arguments[0].querySelector('[name=csrf]').value = 'forged'",
                                  driver.find_element(By.XPATH, form))
            driver.find_element(By.XPATH, form + "//button").click()
            WebDriverWait(driver, 10).until(lambda d: "CSRF token or origin does not match" in d.page_source)
            driver.save_screenshot(str(shots / "04-csrf-refused.png"))
            driver.get(gw.url + "/console/keys")
            driver.find_element(By.XPATH, form + "//button").click()
            # the page is being replaced: an element found mid-navigation may go stale, so ask again
            settled = WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,
                                                                   NoSuchElementException))
            settled.until(
                lambda d: d.find_element(By.XPATH, "//tr[td[text()='laptop-ana']]/td[7]").text == "revoked")
            driver.save_screenshot(str(shots / "05-key-revoked.png"))

        await in_thread(tamper_then_revoke)
        async with aiohttp.ClientSession() as s:
            async with s.post(gw.url + "/v1/chat/completions", json=body,
                              headers={"Authorization": f"Bearer {secret}"}) as r:
                assert r.status == 401

        def other_pages() -> dict[str, str]:
            seen = {}
            for n, (path, name) in enumerate([("budgets", "budgets"), ("requests", "requests"),
                                              ("health", "providers"), ("audit", "audit-log")], start=6):
                driver.get(gw.url + "/console/" + path)
                seen[path] = driver.page_source
                assert "pwned" not in driver.title          # an owner claim with markup is only text
                driver.save_screenshot(str(shots / f"{n:02d}-{name}.png"))
            return seen

        pages = await in_thread(other_pages)
        assert "ml-eng" in pages["budgets"] and "team" in pages["budgets"]
        assert ledger[0]["request_id"] in pages["requests"]
        assert "&lt;script&gt;document.title" in pages["requests"]
        assert "openai" in pages["health"]
        assert "key.revoke" in pages["audit"] and "key.create" in pages["audit"]
        logs = await in_thread(driver.get_log, "browser")
        assert not [entry for entry in logs if "Content Security Policy" in entry["message"]], logs

        def viewer_via_sso() -> str:
            driver.delete_all_cookies()
            fake_issuer.user = {"sub": "u-42", "email": "fin@example.com", "groups": ["finance"]}
            driver.get(gw.url + "/console/login")
            driver.find_element(By.LINK_TEXT, "Sign in with corp").click()
            heading_is("Usage and spend")
            driver.get(gw.url + "/console/keys")
            driver.save_screenshot(str(shots / "10-signed-in-viewer.png"))
            return driver.page_source

        page = await in_thread(viewer_via_sso)
        assert "fin@example.com" in page and "viewer" in page
        assert "Create a key" not in page and "Revoke" not in page
