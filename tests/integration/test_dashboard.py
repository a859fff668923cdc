"""The dashboard in a real browser (Debian's headless chromium, driven by Playwright): a published
complaint appears in the workload table and its breach alert in the live feed, without a reload.
A screenshot is kept in test-artifacts/dashboard.png."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.integration.conftest import ARTIFACTS, CHANNEL_TOKENS, DASHBOARD_TOKEN
from tests.wire import assigned, received

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

CHROMIUM = Path("/usr/bin/chromium")
SECONDS = 1000  # Playwright counts milliseconds


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), "the browser test needs Debian's chromium: `make test` installs it (apt-get)"
    chinese_fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout
    assert chinese_fonts.strip(), "no Chinese font: department names would show as boxes (`make test` installs one)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture
def base_url(worker_env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{worker_env['COMPLAINTFLOW_WEB_PORT']}"


async def publish(base_url: str, *events: dict[str, object]) -> None:
    async with (
        aiohttp.ClientSession(base_url) as session,
        session.post(
            "/events", json=list(events), headers={"Authorization": f"Bearer {CHANNEL_TOKENS['hotline']}"}
        ) as response,
    ):
        assert response.status == 202, await response.text()


async def sign_in(page: Page, base_url: str) -> None:
    await page.goto(base_url + "/")
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#token", DASHBOARD_TOKEN)
    await page.click("#login-form button")
    await expect(page.locator("#board")).to_be_visible()


async def test_a_new_complaint_and_its_breach_alert_appear_without_a_reload(
    browser: Browser, base_url: str, new_id: Callable[[str], str]
) -> None:
    page = await browser.new_page()
    await sign_in(page, base_url)
    assert DASHBOARD_TOKEN not in page.url
    assert await page.evaluate("Object.values(sessionStorage)") == [DASHBOARD_TOKEN]

    complaint_id, desk = new_id("C"), new_id("电器维修部")
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)  # a 300 CNY claim, breached
    await publish(
        base_url,
        received(complaint_id, amount="300.00", at=opened),
        assigned(complaint_id, desk, "王芳", at=opened + timedelta(minutes=5)),
    )

    row = page.locator(f'#workload-rows tr[data-department="{desk}"]')
    await expect(row).to_be_visible(timeout=30 * SECONDS)
    await expect(row.locator("td").nth(0)).to_have_text(desk)  # Chinese names shown as they are
    await expect(row.locator("td").nth(1)).to_have_text("1")
    alert = page.locator("#alerts li.breached", has_text=complaint_id).first
    await expect(alert).to_be_visible(timeout=30 * SECONDS)

    await alert.locator("a").click()
    await expect(page.locator("#complaint-title")).to_contain_text(complaint_id)
    await expect(page.locator("#timeline-rows tr")).to_have_count(2)
    await expect(page.locator("#clock-rows tr", has_text="resolution")).to_contain_text("breached")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


async def test_a_wrong_token_shows_no_data_and_asks_again(browser: Browser, base_url: str) -> None:
    page = await browser.new_page()
    await page.goto(base_url + "/")
    await page.fill("#token", "not-a-token")
    await page.click("#login-form button")
    await expect(page.locator("#login-error")).to_have_text("That token was refused.", timeout=10 * SECONDS)
    await expect(page.locator("#board")).to_be_hidden()
    assert await page.locator("#workload-rows tr").count() == 0
