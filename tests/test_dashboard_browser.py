"""The dashboard in a real browser: Debian's chromium driven by playwright, against a real
``omni-proxy serve --demo`` process with weeks of seeded traffic plus live requests.

Screenshots of every page (laptop and phone sizes) are written to
``$OMNI_DASHBOARD_SCREENSHOTS`` (default ``/tmp/omni-dashboard-screenshots``).
On a laptop without chromium or playwright these tests skip; in CI (``CI=true``) they fail.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from omni_proxy.storage import open_database
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.test_dashboard_support import CHROMIUM_ARGS, SCREENSHOTS, chromium_or_skip, history

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PAGES = [
    "/dashboard",
    "/dashboard/usage",
    "/dashboard/models",
    "/dashboard/requests",
    "/dashboard/keys",
]


class Site:
    """The running proxy, its orgs and keys (by role), and its database file."""

    def __init__(self, proxy: ProxyProcess, db_path: Path) -> None:
        self.proxy = proxy
        self.root = proxy.root
        self.db_path = db_path
        self.orgs: dict[str, str] = {}
        self.keys: dict[str, str] = {}

    def api(self, method: str, path: str, key: str = MASTER_KEY, **kw: Any) -> Any:
        r = httpx.request(
            method, self.root + path, headers={"authorization": f"Bearer {key}"}, timeout=30, **kw
        )
        assert r.status_code < 300, r.text
        return r.json()

    def usage(self, key: str, start: str, end: str, **extra: str) -> dict[str, Any]:
        return dict(self.api("GET", "/v1/usage", key, params={"from": start, "to": end, **extra}))

    def request_ids(self, org: str) -> set[str]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT id FROM requests WHERE org_id = ?", (self.orgs[org],))
            return {r[0] for r in rows}
        finally:
            conn.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    chromium_or_skip()
    tmp = tmp_path_factory.mktemp("dashboard")
    db_path = tmp / "proxy.db"
    orgs: dict[str, str] = {}

    async def seed() -> None:
        db = await open_database(f"sqlite:///{db_path}")
        await db.migrate()
        for name in ("acme", "globex", "newco"):
            orgs[name] = (await db.create_org(name))["id"]
        await db.write_records(history(orgs["acme"], 45, 24, seed=7))
        await db.write_records(history(orgs["globex"], 10, 4, seed=8))
        await db.close()

    asyncio.run(seed())
    proxy = ProxyProcess(tmp, args=["--demo"], env={"OMNI_KEY_SECRET": "browser-test-secret"})
    proxy.start()
    try:
        s = Site(proxy, db_path)
        s.orgs = orgs
        for role, org, perms in (
            ("acme", "acme", ["read"]),
            ("acme_rw", "acme", ["read", "write"]),
            ("acme_write_only", "acme", ["write"]),
            ("globex", "globex", ["read"]),
            ("newco", "newco", ["read"]),
        ):
            made = s.api("POST", "/v1/api-keys", json={"org_id": orgs[org], "permissions": perms})
            s.keys[role] = made["key"]
        # A few live requests too, routed by the proxy itself.
        wide = (
            (datetime.now(UTC) - timedelta(days=400)).date().isoformat(),
            (datetime.now(UTC) + timedelta(days=1)).date().isoformat(),
        )
        before = s.usage(s.keys["acme"], *wide)["total_requests"]
        for text in (
            "Write a Python function that reverses a list",
            "Translate 'hello' to French",
            "Summarize: the quick brown fox jumps over the lazy dog",
            "hi there",
        ):
            s.api(
                "POST",
                "/v1/chat/completions",
                s.keys["acme_rw"],
                json={"model": "auto", "messages": [{"role": "user", "content": text}]},
            )
        deadline = time.monotonic() + 10
        while s.usage(s.keys["acme"], *wide)["total_requests"] < before + 4:
            assert time.monotonic() < deadline, "the live requests were not recorded"
            time.sleep(0.1)
        yield s
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, site: Site, key: str, path: str = "/dashboard") -> None:
    page.goto(site.root + path)
    assert "/dashboard/login" in page.url
    page.fill("[data-testid=api-key]", key)
    page.click("[data-testid=sign-in]")
    page.wait_for_load_state()
    assert "/dashboard/login" not in page.url, page.content()[:2000]


def shown_range(page: Any) -> tuple[str, str]:
    label = page.locator("[data-testid=range-label]")
    return label.get_attribute("data-from"), label.get_attribute("data-to")


def value(page: Any, testid: str) -> str:
    loc = page.locator(f"[data-testid={testid}]")
    inner = loc.locator(".kpi-value")
    return str((inner if inner.count() else loc).first.get_attribute("data-value"))


def assert_overview_matches(page: Any, site: Site, key: str, **extra: str) -> dict[str, Any]:
    start, end = shown_range(page)
    usage = site.usage(key, start, end, **extra)
    assert int(value(page, "kpi-requests")) == usage["total_requests"]
    assert float(value(page, "kpi-cost")) == pytest.approx(usage["total_cost"], abs=1e-9)
    assert float(value(page, "kpi-premium_cost")) == pytest.approx(
        usage["total_premium_cost"], abs=1e-9
    )
    assert float(value(page, "kpi-savings")) == pytest.approx(usage["total_savings"], abs=1e-9)
    if usage["total_requests"]:
        assert float(value(page, "kpi-success_rate")) == pytest.approx(usage["success_rate"])
        assert float(value(page, "latency-p50")) == pytest.approx(usage["latency_p50_ms"])
        assert float(value(page, "latency-p95")) == pytest.approx(usage["latency_p95_ms"])
        pct = usage["total_savings"] / usage["total_premium_cost"]
        assert float(value(page, "kpi-savings-pct")) == pytest.approx(pct)
    # What is shown agrees with the exact figures too.
    shown = page.locator("[data-testid=kpi-requests] .kpi-value").inner_text()
    assert shown.replace(",", "") == str(usage["total_requests"])
    return usage


def test_sign_in_and_overview_numbers_match_v1_usage(page: Any, site: Site) -> None:
    page.goto(site.root + "/dashboard/login")
    page.screenshot(path=str(SCREENSHOTS / "login.png"))
    sign_in(page, site, site.keys["acme"])
    assert page.url.rstrip("/").endswith("/dashboard")
    usage = assert_overview_matches(page, site, site.keys["acme"])
    assert usage["total_requests"] > 100 and usage["total_savings"] > 0
    assert page.locator("[data-testid=org-name]").inner_text() == "acme"
    assert page.locator("svg.chart.wide").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)


def test_changing_the_range(page: Any, site: Site) -> None:
    key = site.keys["acme"]
    sign_in(page, site, key)
    thirty = assert_overview_matches(page, site, key)["total_requests"]
    page.click("[data-testid=preset-7d]")
    page.wait_for_url("**/dashboard?range=7d")
    seven = assert_overview_matches(page, site, key)["total_requests"]
    page.click("[data-testid=preset-90d]")
    page.wait_for_url("**range=90d")
    ninety = assert_overview_matches(page, site, key)["total_requests"]
    assert seven < thirty < ninety  # 45 days of history
    page.click("[data-testid=preset-24h]")
    page.wait_for_url("**range=24h")
    assert_overview_matches(page, site, key)
    # Custom dates, through the form.
    page.fill("[data-testid=from]", "2000-01-01")
    page.fill("[data-testid=to]", "2099-12-31")
    page.click("[data-testid=apply]")
    page.wait_for_url("**from=2000-01-01&to=2099-12-31")
    assert page.locator("[data-testid=range-error]").count() == 1  # longer than 5 years
    page.fill("[data-testid=from]", "2099-01-01")
    page.fill("[data-testid=to]", "2099-03-01")
    page.click("[data-testid=apply]")
    page.wait_for_url("**from=2099-01-01&to=2099-03-01")
    assert_overview_matches(page, site, key)
    assert page.locator("[data-testid=empty-range]").count() == 1
    # The range follows the navigation between pages.
    page.click("[data-testid=preset-7d]")
    page.wait_for_url("**/dashboard?range=7d")
    page.click("a[href='/dashboard/usage?range=7d']")
    page.wait_for_url("**/dashboard/usage?range=7d")
    assert page.locator("[data-testid=preset-7d]").get_attribute("aria-current") == "true"
    assert page.locator("svg.chart.wide").count() == 5  # requests, cost, savings, latency, errors
    page.screenshot(path=str(SCREENSHOTS / "usage.png"), full_page=True)


def test_models_page(page: Any, site: Site) -> None:
    key = site.keys["acme"]
    sign_in(page, site, key, "/dashboard/models")
    start, end = shown_range(page)
    usage = site.usage(key, start, end)
    rows = page.locator("[data-testid=models-table] tbody tr")
    assert rows.count() == len(usage["by_model"])
    first = rows.first.locator("td")
    top = usage["by_model"][0]
    assert first.nth(0).inner_text() == top["model"]
    assert first.nth(1).inner_text().replace(",", "") == str(top["requests"])
    tasks = page.locator("[data-testid=tasks-table] tbody tr")
    assert tasks.count() == len(usage["by_task"])
    assert page.locator("[data-testid=pairs-table] tbody tr").count() >= len(usage["by_model"])
    page.screenshot(path=str(SCREENSHOTS / "models.png"), full_page=True)


def test_requests_page_shows_routing(page: Any, site: Site) -> None:
    sign_in(page, site, site.keys["acme"], "/dashboard/requests")
    rows = page.locator("[data-testid=request-row]")
    assert rows.count() == 50
    reason = page.locator("[data-testid=routing-reason]").first.inner_text()
    assert "task" in reason
    details = rows.first.locator("details.candidates")
    details.locator("summary").click()
    assert details.locator("table.inner tbody tr").first.is_visible()
    page.screenshot(path=str(SCREENSHOTS / "requests.png"))
    first_ids = {rows.nth(i).get_attribute("id") for i in range(rows.count())}
    page.click("[data-testid=page-older]")
    page.wait_for_load_state()
    older = page.locator("[data-testid=request-row]")
    older_ids = {older.nth(i).get_attribute("id") for i in range(older.count())}
    assert older_ids and not older_ids & first_ids
    page.click("[data-testid=page-newer]")
    page.wait_for_load_state()
    again = page.locator("[data-testid=request-row]")
    assert {again.nth(i).get_attribute("id") for i in range(again.count())} == first_ids


def test_sign_out(page: Any, site: Site) -> None:
    sign_in(page, site, site.keys["acme"])
    page.click("[data-testid=sign-out]")
    page.wait_for_url("**/dashboard/login?signed_out=1")
    assert "signed out" in page.locator("[data-testid=notice]").inner_text()
    for path in PAGES:
        page.goto(site.root + path)
        assert "/dashboard/login" in page.url


def test_wrong_keys_are_refused(page: Any, site: Site) -> None:
    page.goto(site.root + "/dashboard/login")
    for key in ("sk-omni-wrongkey-notarealsecret", site.keys["acme_write_only"]):
        page.fill("[data-testid=api-key]", key)
        page.click("[data-testid=sign-in]")
        page.wait_for_load_state()
        assert "/dashboard/login" in page.url
        assert page.locator("[data-testid=login-error]").is_visible()
        assert key not in page.content()
    page.goto(site.root + "/dashboard")
    assert "/dashboard/login" in page.url


def test_an_org_key_sees_only_its_org(page: Any, site: Site) -> None:
    key = site.keys["globex"]
    sign_in(page, site, key, "/dashboard/requests?range=90d")
    ids = {
        page.locator("[data-testid=request-row]").nth(i).get_attribute("id")
        for i in range(page.locator("[data-testid=request-row]").count())
    }
    assert ids and ids <= site.request_ids("globex")
    assert not ids & site.request_ids("acme")
    page.goto(site.root + "/dashboard?range=90d")
    usage = assert_overview_matches(page, site, key)
    acme = site.usage(site.keys["acme"], *shown_range(page))
    assert usage["total_requests"] != acme["total_requests"]
    assert page.locator("[data-testid=org-select]").count() == 0
    # The URL cannot widen it either: usage's org_id is for the master key only.
    page.goto(site.root + f"/dashboard?org_id={site.orgs['acme']}")
    assert int(value(page, "kpi-requests")) == site.usage(key, *shown_range(page))["total_requests"]


def test_the_master_key_switches_org(page: Any, site: Site) -> None:
    sign_in(page, site, MASTER_KEY)
    page.select_option("[data-testid=org-select]", label="acme")
    page.click(".org-switch button")
    page.wait_for_load_state()
    assert page.locator("[data-testid=org-select] option:checked").inner_text() == "acme"
    assert_overview_matches(page, site, MASTER_KEY, org_id=site.orgs["acme"])
    page.select_option("[data-testid=org-select]", label="globex")
    page.click(".org-switch button")
    page.wait_for_load_state()
    assert_overview_matches(page, site, MASTER_KEY, org_id=site.orgs["globex"])


def test_empty_state_on_a_fresh_org(page: Any, site: Site) -> None:
    sign_in(page, site, site.keys["newco"])
    empty = page.locator("[data-testid=empty-state]")
    assert empty.is_visible()
    text = empty.inner_text()
    assert "curl" in text and "YOUR_API_KEY" in text and "/v1/chat/completions" in text
    assert site.keys["newco"] not in page.content()
    assert page.locator("svg.chart").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "empty.png"), full_page=True)


def test_phone_sized_viewport_has_no_horizontal_scroll(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(site.root + "/dashboard/login")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        sign_in(page, site, site.keys["acme"])
        for path in PAGES:
            page.goto(site.root + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (path, width)
            # The narrow chart is the one shown.
            if path in ("/dashboard", "/dashboard/usage"):
                assert page.locator("svg.chart.narrow").first.is_visible()
                assert not page.locator("svg.chart.wide").first.is_visible()
            # No table is cut off inside its scroll box either (Top models was).
            if path in ("/dashboard", "/dashboard/keys"):  # wide ones elsewhere scroll
                cut = page.evaluate(
                    "[...document.querySelectorAll('.table-wrap')]"
                    ".filter(w => w.scrollWidth > w.clientWidth + 1).length"
                )
                assert cut == 0, (path, cut)
            name = path.strip("/").replace("/", "-")
            page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"), full_page=True)
    finally:
        context.close()


def test_opening_routing_detail_keeps_the_time_column_in_view(page: Any, site: Site) -> None:
    sign_in(page, site, site.keys["acme"], "/dashboard/requests")
    row = page.locator("[data-testid=request-row]").first
    row.locator("details.candidates summary").click()
    time_cell = row.locator("td").first.bounding_box()
    assert time_cell is not None and time_cell["x"] >= 0
    assert time_cell["x"] + time_cell["width"] <= LAPTOP["width"]
    table_wrap = page.locator("[data-testid=requests-table]").bounding_box()
    assert table_wrap is not None and table_wrap["width"] <= LAPTOP["width"]


@pytest.mark.parametrize("viewport", ["laptop", "phone"])
def test_filters_detail_page_and_export(browser: Any, site: Site, viewport: str) -> None:
    size = LAPTOP if viewport == "laptop" else PHONE
    context = browser.new_context(viewport=size, is_mobile=viewport == "phone")
    try:
        page = context.new_page()
        sign_in(page, site, site.keys["acme"], "/dashboard/requests")
        page.select_option("[data-testid=request-filters] select[name=status]", "ok")
        page.click("[data-testid=request-filters] button[type=submit]")
        page.wait_for_load_state()
        assert "status=ok" in page.url
        statuses = page.locator("[data-testid=request-row] .status").all_inner_texts()
        assert statuses and all(int(s) < 400 for s in statuses)
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        page.screenshot(path=str(SCREENSHOTS / f"{viewport}-requests-filtered.png"))
        href = page.locator("[data-testid=export-csv]").get_attribute("href")
        assert href and "status=ok" in href
        page.locator("[data-testid=request-link]").first.click()
        page.wait_for_load_state()
        assert page.locator("[data-testid=request-detail]").is_visible()
        assert page.locator("[data-testid=request-routing]").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        page.screenshot(path=str(SCREENSHOTS / f"{viewport}-request-detail.png"), full_page=True)
    finally:
        context.close()
