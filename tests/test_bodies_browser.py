"""The request page in a real browser with body logging on (the prompt and the answer shown)
and off (a clear "body logging is off"), at laptop and phone width, with screenshots in
``$OMNI_DASHBOARD_SCREENSHOTS`` (default ``/tmp/omni-dashboard-screenshots``).

Debian's chromium driven by playwright; skipped without them, failed in CI.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.test_dashboard_support import CHROMIUM_ARGS, SCREENSHOTS, chromium_or_skip

pytestmark = pytest.mark.browser

SIZES = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
PROMPT = "Explain in one line why rivers meander"


def ask(proxy: ProxyProcess, key: str) -> tuple[str, str]:
    """One chat request; its id and answer, once the recorder has written its bodies."""
    r = httpx.post(
        proxy.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={
            "model": "auto",
            "messages": [
                {"role": "system", "content": "You are a geographer."},
                {"role": "user", "content": PROMPT},
            ],
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    rid = body["omni"]["request_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        conn = sqlite3.connect(f"file:{proxy.tmp / 'proxy.db'}?mode=ro", uri=True)
        try:
            if conn.execute("SELECT 1 FROM requests WHERE id = ?", (rid,)).fetchone():
                break
        finally:
            conn.close()
        time.sleep(0.05)
    return rid, body["choices"][0]["message"]["content"]


@pytest.fixture(scope="module")
def proxies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ProxyProcess]]:
    chromium_or_skip()
    env = {"OMNI_KEY_SECRET": "bodies-browser-secret"}
    on = ProxyProcess(
        tmp_path_factory.mktemp("bodies-on"),
        {"logging": {"bodies": True}},
        args=["--demo"],
        env=env,
    )
    off = ProxyProcess(tmp_path_factory.mktemp("bodies-off"), args=["--demo"], env=env)
    with on, off:
        yield {"on": on, "off": off}


@pytest.fixture(scope="module")
def browser(proxies: dict[str, ProxyProcess]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_detail(browser: Any, proxy: ProxyProcess, rid: str, viewport: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport=SIZES[viewport], is_mobile=viewport == "phone")
    page = context.new_page()
    page.goto(f"{proxy.root}/dashboard/requests/{rid}")
    assert "/dashboard/login" in page.url
    page.fill("[data-testid=api-key]", MASTER_KEY)
    page.click("[data-testid=sign-in]")
    page.wait_for_load_state()
    assert page.url.endswith(f"/dashboard/requests/{rid}"), page.url
    return context, page


@pytest.mark.parametrize("viewport", ["laptop", "phone"])
def test_prompt_and_answer_on_the_request_page(
    browser: Any, proxies: dict[str, ProxyProcess], viewport: str
) -> None:
    rid, answer = ask(proxies["on"], MASTER_KEY)
    context, page = open_detail(browser, proxies["on"], rid, viewport)
    try:
        section = page.locator("[data-testid=request-bodies]")
        section.scroll_into_view_if_needed()
        assert section.is_visible()
        prompt = page.locator("[data-testid=body-prompt]")
        assert PROMPT in prompt.inner_text() and "You are a geographer." in prompt.inner_text()
        assert page.locator("[data-testid=body-answer]").inner_text().strip() == answer.strip()
        assert page.locator("[data-testid=bodies-off]").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[viewport]["width"]
        page.screenshot(
            path=str(SCREENSHOTS / f"{viewport}-request-detail-bodies.png"), full_page=True
        )
    finally:
        context.close()


@pytest.mark.parametrize("viewport", ["laptop", "phone"])
def test_body_logging_off_says_so(
    browser: Any, proxies: dict[str, ProxyProcess], viewport: str
) -> None:
    rid, _answer = ask(proxies["off"], MASTER_KEY)
    context, page = open_detail(browser, proxies["off"], rid, viewport)
    try:
        off = page.locator("[data-testid=bodies-off]")
        off.scroll_into_view_if_needed()
        assert off.is_visible() and "Body logging is off" in off.inner_text()
        assert PROMPT not in page.content()
        assert page.locator("[data-testid=body-prompt]").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[viewport]["width"]
        page.screenshot(
            path=str(SCREENSHOTS / f"{viewport}-request-detail-bodies-off.png"), full_page=True
        )
    finally:
        context.close()
