"""The dashboard without a browser: sessions and their cookies, CSRF, org scoping, the date
range, error pages, and the storage queries behind the pages (on both dialects)."""

from __future__ import annotations

import base64
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from omni_proxy.app import create_app
from omni_proxy.config import load_config
from omni_proxy.dashboard import charts, fmt
from omni_proxy.dashboard.session import COOKIE, Signer
from omni_proxy.dashboard.views import parse_range, usage_params
from omni_proxy.routes.usage import date_range
from tests.test_dashboard_support import csrf_of, history, sign_in
from tests.test_storage_support import db, db_url, make_record

__all__ = ["db", "db_url"]

MASTER = "sk-omni-test-master-dash-0123"
PAGES = [
    "/dashboard",
    "/dashboard/usage",
    "/dashboard/models",
    "/dashboard/requests",
    "/dashboard/keys",
]


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("OMNI_KEY_SECRET", "dashboard-test-secret")
    config = load_config(
        env={"OMNI_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "OMNI_MASTER_KEY": MASTER},
        demo=True,
    )
    with TestClient(create_app(config)) as c:
        yield c


def make_org(client: TestClient, name: str) -> str:
    r = client.post("/v1/organizations", json={"name": name}, headers=auth(MASTER))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def make_key(client: TestClient, org_id: str, perms: list[str]) -> dict[str, Any]:
    r = client.post(
        "/v1/api-keys", json={"org_id": org_id, "permissions": perms}, headers=auth(MASTER)
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def seed(client: TestClient, records: list[Any]) -> None:
    async def write() -> None:
        await client.app.state.services.db.write_records(records)  # type: ignore[attr-defined]

    client.portal.call(write)  # type: ignore[union-attr]


def cookie_payload(client: TestClient) -> dict[str, Any]:
    token = client.cookies[COOKIE]
    body = token.split(".")[0]
    return dict(orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


# -- sessions --------------------------------------------------------------------------------
def test_pages_need_a_session(client: TestClient) -> None:
    for path in PAGES:
        r = client.get(path + "?range=7d", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/dashboard/login?next=")
    page = client.get("/dashboard/login")
    assert page.status_code == 200 and 'name="api_key"' in page.text


def test_session_cookie_flags_and_contents(client: TestClient) -> None:
    org = make_org(client, "acme")
    key = make_key(client, org, ["read"])
    r = sign_in(client, key["key"], "/dashboard/usage?range=7d")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/usage?range=7d"
    set_cookies = r.headers.get_list("set-cookie")
    session = next(c for c in set_cookies if c.startswith(COOKIE + "="))
    flags = {part.strip().split("=")[0].lower() for part in session.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= flags
    assert "samesite=strict" in session.lower() and "path=/dashboard" in session.lower()
    parsed = SimpleCookie()
    parsed.load(session)
    payload = cookie_payload(client)
    # The principal, never the key.
    assert payload["k"] == key["id"] and payload["o"] == org and payload["p"] == ["read"]
    assert key["key"] not in parsed[COOKIE].value
    assert key["key"] not in orjson.dumps(payload).decode()
    assert client.get("/dashboard").status_code == 200


def test_a_tampered_cookie_signs_out(client: TestClient) -> None:
    org = make_org(client, "acme")
    sign_in(client, make_key(client, org, ["read"])["key"])
    token = client.cookies[COOKIE]
    body, mac = token.split(".")
    payload = cookie_payload(client)
    forged_body = (
        base64.urlsafe_b64encode(orjson.dumps({**payload, "o": "org_other", "v": "org_other"}))
        .rstrip(b"=")
        .decode()
    )
    for forged in (f"{forged_body}.{mac}", f"{body}.{mac[:-2]}xx", "garbage", f"{body}."):
        client.cookies.clear()
        client.cookies.set(COOKIE, forged, path="/dashboard")
        r = client.get("/dashboard", follow_redirects=False)
        assert r.status_code == 303, forged
        assert "ended=1" in r.headers["location"]
        client.cookies.clear()
    # A cookie signed under another secret is refused too.
    other = Signer(b"another-secret").sign(payload)
    client.cookies.clear()
    client.cookies.set(COOKIE, other, path="/dashboard")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_wrong_and_insufficient_keys_are_refused(client: TestClient) -> None:
    org = make_org(client, "acme")
    write_only = make_key(client, org, ["write"])["key"]
    for key, status in (("sk-omni-abcdefgh-nope", 401), ("not a key", 401), (write_only, 403)):
        r = sign_in(client, key)
        assert r.status_code == status
        assert key not in r.text
        assert COOKIE not in client.cookies
    assert sign_in(client, "").status_code == 400


def test_revoked_key_ends_the_session(client: TestClient) -> None:
    org = make_org(client, "acme")
    key = make_key(client, org, ["read"])
    sign_in(client, key["key"])
    assert client.get("/dashboard").status_code == 200
    r = client.delete(f"/v1/api-keys/{key['id']}", headers=auth(MASTER))
    assert r.status_code in (200, 204), r.text
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and "ended=1" in r.headers["location"]


def test_changed_master_key_ends_the_master_session(client: TestClient, tmp_path: Path) -> None:
    sign_in(client, MASTER)
    assert client.get("/dashboard").status_code == 200
    token = client.cookies[COOKIE]
    for master, status in ((MASTER, 200), ("sk-omni-rotated-master-key-01", 303)):
        # Another instance (same OMNI_KEY_SECRET and database) with this master key.
        config = load_config(
            env={"OMNI_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "OMNI_MASTER_KEY": master},
            demo=True,
        )
        with TestClient(create_app(config)) as other:
            other.cookies.set(COOKIE, token, path="/dashboard")
            assert other.get("/dashboard", follow_redirects=False).status_code == status


def test_expired_session_is_refused(client: TestClient) -> None:
    sign_in(client, MASTER)
    signer = client.app.state.services.dashboard_signer  # type: ignore[attr-defined]
    payload = {**cookie_payload(client), "exp": int(time.time()) - 1}
    client.cookies.clear()
    client.cookies.set(COOKIE, signer.sign(payload), path="/dashboard")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_no_key_is_ever_rendered(client: TestClient) -> None:
    org = make_org(client, "acme")
    key = make_key(client, org, ["read", "write"])["key"]
    for _ in range(3):
        assert (
            client.post(
                "/v1/chat/completions",
                json={"model": "auto", "messages": [{"role": "user", "content": "hi " + key}]},
                headers=auth(key),
            ).status_code
            == 200
        )
    sign_in(client, key)
    time.sleep(0.5)
    for path in [*PAGES, "/dashboard/login", "/dashboard?range=24h"]:
        body = client.get(path).text
        assert key not in body and MASTER not in body
        assert key[len("sk-omni-") + 9 :] not in body  # nor its secret part
    failed = sign_in(client, key + "x")
    assert key not in failed.text


def test_csrf_tokens_on_every_post(client: TestClient) -> None:
    # Sign-in without the form's token (or with another one) is refused.
    client.get("/dashboard/login")
    r = client.post("/dashboard/login", data={"api_key": MASTER}, follow_redirects=False)
    assert r.status_code == 403 and COOKIE not in client.cookies
    r = client.post(
        "/dashboard/login", data={"api_key": MASTER, "csrf": "forged"}, follow_redirects=False
    )
    assert r.status_code == 403
    # A cross-site POST is refused even with the right token.
    page = client.get("/dashboard/login")
    r = client.post(
        "/dashboard/login",
        data={"api_key": MASTER, "csrf": csrf_of(page.text)},
        headers={"sec-fetch-site": "cross-site"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = client.post(
        "/dashboard/login",
        data={"api_key": MASTER, "csrf": csrf_of(page.text)},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    # Signed in: sign-out and org switch need the session's token.
    sign_in(client, MASTER)
    assert client.post("/dashboard/logout", data={}, follow_redirects=False).status_code == 403
    assert client.get("/dashboard").status_code == 200
    r = client.post("/dashboard/org", data={"org": "default", "csrf": "x"}, follow_redirects=False)
    assert r.status_code == 403
    token = csrf_of(client.get("/dashboard").text)
    r = client.post("/dashboard/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/dashboard/login")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_open_redirects_are_not_followed(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/dashboard", "/dashboard\\@evil"):
        r = sign_in(client, MASTER, target)
        assert r.headers["location"] == "/dashboard"
        client.cookies.clear()


def test_security_headers(client: TestClient) -> None:
    sign_in(client, MASTER)
    r = client.get("/dashboard")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert "<script" not in r.text
    css = client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/dashboard/static/../app.py").status_code == 404
    assert client.get("/dashboard/static/nope.css").status_code == 404


# -- org scoping -----------------------------------------------------------------------------
def test_org_keys_see_only_their_org_and_cannot_switch(client: TestClient) -> None:
    a, b = make_org(client, "acme"), make_org(client, "globex")
    seed(client, [make_record(a, model="only-in-acme") for _ in range(3)])
    seed(client, [make_record(b, model="only-in-globex") for _ in range(2)])
    sign_in(client, make_key(client, b, ["read"])["key"])
    for path in ["/dashboard", "/dashboard/models", "/dashboard/requests"]:
        body = client.get(path).text
        assert "only-in-acme" not in body
    assert "only-in-globex" in client.get("/dashboard/models").text
    assert 'data-testid="org-select"' not in client.get("/dashboard").text
    token = csrf_of(client.get("/dashboard").text)
    r = client.post("/dashboard/org", data={"org": a, "csrf": token}, follow_redirects=False)
    assert r.status_code == 403
    assert "only-in-acme" not in client.get("/dashboard/models").text
    # An org's admin key is still one org's key.
    client.cookies.clear()
    sign_in(client, make_key(client, b, ["admin"])["key"])
    assert 'data-testid="org-select"' not in client.get("/dashboard").text


def test_master_key_switches_org(client: TestClient) -> None:
    a = make_org(client, "acme")
    seed(client, [make_record(a, model="only-in-acme") for _ in range(3)])
    sign_in(client, MASTER)
    page = client.get("/dashboard/models")
    assert 'data-testid="org-select"' in page.text and "only-in-acme" not in page.text
    r = client.post(
        "/dashboard/org",
        data={"org": a, "csrf": csrf_of(page.text), "next": "/dashboard/models?range=7d"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/models?range=7d"
    assert "only-in-acme" in client.get("/dashboard/models").text
    r = client.post(
        "/dashboard/org",
        data={"org": "org_nope", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 400


# -- pages -----------------------------------------------------------------------------------
def test_empty_state_on_a_fresh_install(client: TestClient) -> None:
    org = make_org(client, "newco")
    sign_in(client, make_key(client, org, ["read"])["key"])
    for path in PAGES:
        body = client.get(path).text
        assert 'data-testid="empty-state"' in body, path
        assert "curl " in body and "YOUR_API_KEY" in body
        assert "<svg" not in body
    # With old traffic only, the page says the range is empty instead.
    old = (datetime.now(UTC) - timedelta(days=60)).timestamp()
    seed(client, [make_record(org, created_at=old)])
    body = client.get("/dashboard").text
    assert 'data-testid="empty-range"' in body and 'data-testid="empty-state"' not in body


def test_pages_render_with_data(client: TestClient) -> None:
    org = make_org(client, "acme")
    seed(client, history(org, 40, 8))
    sign_in(client, make_key(client, org, ["read"])["key"])
    for path in PAGES:
        for query in ("", "?range=24h", "?range=90d", "?from=2020-01-01&to=2020-01-09"):
            r = client.get(path + query)
            assert r.status_code == 200, (path, query, r.text[:500])
    usage = client.get("/dashboard/usage?range=90d").text
    assert usage.count('class="chart wide"') == 5 and usage.count('class="chart narrow"') == 5
    requests = client.get("/dashboard/requests").text
    assert requests.count('data-testid="request-row"') == 50
    assert "scores best on cost and latency" in requests


def test_money_has_one_precision_per_column(client: TestClient) -> None:
    """A column of amounts is written with the places its smallest amount needs, so the
    decimal points line up (no "$1.20" above "$0.000012")."""
    org = make_org(client, "acme")
    seed(client, history(org, 3, 30))
    sign_in(client, make_key(client, org, ["read"])["key"])
    for path in ("/dashboard/requests", "/dashboard/models", "/dashboard/usage"):
        html = client.get(path + "?range=7d").text
        for table in re.findall(r"<tbody>(.*?)</tbody>", html, re.S):
            for row_cells in [re.findall(r'<td class="num"[^>]*>\$([\d,.]+)', table)]:
                places = {len(v.split(".")[1]) for v in row_cells if "." in v}
                assert len(places) <= 1, (path, sorted(places), row_cells[:6])
    assert fmt.money_places([Decimal("1.5"), Decimal("0.00002"), None]) == 6
    assert fmt.money(Decimal("1.5"), 6) == "$1.500000" and fmt.money(0, 4) == "$0.0000"


def test_requests_filters_detail_page_and_csv_export(client: TestClient) -> None:
    org = make_org(client, "acme")
    seed(client, history(org, 3, 40))
    sign_in(client, make_key(client, org, ["read"])["key"])
    page = client.get("/dashboard/requests?range=7d&model=demo-coder")
    assert page.status_code == 200
    assert 'data-testid="request-filters"' in page.text and "Export CSV" in page.text
    models = re.findall(r'data-label="Model">([\w-]+)', page.text)
    assert models and set(models) == {"demo-coder"}
    failed = client.get("/dashboard/requests?range=7d&status=error").text
    statuses = re.findall(r'<span class="status (?:ok|bad)">(\d+)</span>', failed)
    assert statuses and all(int(x) >= 400 for x in statuses)
    none = client.get("/dashboard/requests?range=7d&model=no-such-model")
    assert 'data-testid="empty-filtered"' in none.text
    older = re.search(r'href="\?([^"]*before=[^"]*)" data-testid="page-older"', page.text)
    if older:  # paging keeps the filter
        assert "model=demo-coder" in older.group(1).replace("&amp;", "&")
    assert client.get("/dashboard/requests?status=maybe").status_code == 400

    rid = re.search(r'href="/dashboard/requests/([\w]+)\?', page.text)
    assert rid, "each row links to its detail page"
    detail = client.get(f"/dashboard/requests/{rid.group(1)}")
    assert detail.status_code == 200
    for part in ("request-detail", "request-routing", "candidates", "Premium-model cost"):
        assert part in detail.text
    assert client.get("/dashboard/requests/req_nope").status_code == 404

    export = client.get("/dashboard/requests.csv?range=7d&model=demo-coder")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    lines = export.text.strip().splitlines()
    assert lines[0].startswith("id,created_at,key_id")
    assert len(lines) - 1 >= len(models) and all(",demo-coder," in line for line in lines[1:])
    client.cookies.clear()
    assert client.get("/dashboard/requests.csv", follow_redirects=False).status_code in (302, 303)


def test_an_embedding_request_reads_well(client: TestClient) -> None:
    """Routed embeddings say "the only embedding model" and list their candidate."""
    r = client.post(
        "/v1/embeddings", json={"model": "auto", "input": "hello"}, headers=auth(MASTER)
    )
    assert r.status_code == 200, r.text
    sign_in(client, MASTER)
    deadline = time.monotonic() + 10
    while "embedding model" not in (html := client.get("/dashboard/requests?range=24h").text):
        assert time.monotonic() < deadline, "the embedding request was not recorded"
        time.sleep(0.1)
    assert "demo-embed is the only embedding model" in html
    assert "1 embedding models" not in html and "0 candidates" not in html
    assert "1 candidate<" in html


def test_short_ranges_are_charted_per_hour_with_latency_and_errors(client: TestClient) -> None:
    org = make_org(client, "acme")
    seed(client, history(org, 3, 60))
    sign_in(client, make_key(client, org, ["read"])["key"])
    day = client.get("/dashboard/usage?range=24h").text
    assert "Requests per hour" in day and "Hour (UTC)" in day
    for testid in ("chart-latency", "chart-errors"):
        assert f'data-testid="{testid}"' in day
    table = day.split('data-testid="days-table"', 1)[1].split("</table>", 1)[0]
    hours = re.findall(r"<tr><td>(\d\d-\d\d \d\d:00)</td><td class=\"num\">([\d,]+)</td>", table)
    assert 24 <= len(hours) <= 25  # every hour of the last 24, partial ones at the edges
    shown = sum(int(n.replace(",", "")) for _, n in hours)
    total = re.search(r'data-testid="kpi-requests".*?data-value="(\d+)"', day, re.S)
    assert total and shown == int(total.group(1))  # the hours add up to the range's total
    now = datetime.now(UTC).replace(microsecond=0)
    last_hour = {"from": fmt.iso(now - timedelta(hours=1)), "to": fmt.iso(now)}
    hour = client.get("/dashboard/usage", params=last_hour).text
    assert "Requests per minute" in hour and "Minute (UTC)" in hour
    table = hour.split('data-testid="days-table"', 1)[1].split("</table>", 1)[0]
    assert 60 <= len(re.findall(r"<tr><td>\d\d:\d\d</td>", table)) <= 61
    month = client.get("/dashboard/usage?range=30d").text
    assert "Requests per day" in month and "Failed requests per day" in month
    assert shown > 0


def test_keys_page_shows_spend_per_key(client: TestClient) -> None:
    org = make_org(client, "acme")
    key = make_key(client, org, ["read"])
    seed(client, history(org, 3, 20))
    sign_in(client, key["key"])
    html = client.get("/dashboard/keys?range=7d").text
    assert html.count('data-testid="key-row"') >= 1
    overview = client.get("/dashboard?range=7d").text
    total = re.search(r'data-testid="kpi-requests".*?data-value="(\d+)"', overview, re.S)
    rows = re.findall(r'data-testid="key-row">.*?<td class="num">([\d,]+)</td>', html, re.S)
    assert total and sum(int(n.replace(",", "")) for n in rows) == int(total.group(1))


def test_bad_ranges_and_cursors_are_a_400_page(client: TestClient) -> None:
    sign_in(client, MASTER)
    for query in (
        "range=1y",
        "from=yesterday",
        "from=2025-03-05&to=2025-03-01",
        "from=2010-01-01&to=2025-01-01",
    ):
        r = client.get("/dashboard?" + query)
        assert r.status_code == 400, query
        assert 'data-testid="range-error"' in r.text and "Traceback" not in r.text
    r = client.get("/dashboard/requests?before=not-a-cursor")
    assert r.status_code == 400 and "page cursor" in r.text


def test_database_outage_is_a_503_page(client: TestClient) -> None:
    sign_in(client, MASTER)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("unable to open database file")

    db = client.app.state.services.db  # type: ignore[attr-defined]
    for name in (
        "usage",
        "usage_series",
        "recent_requests",
        "model_task_breakdown",
        "fallback_totals",
        "spend_by_key",
    ):
        setattr(db, name, broken)
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 503, path
        assert 'data-testid="db-down"' in r.text and "database" in r.text
        assert "Traceback" not in r.text and "OperationalError" not in r.text
        assert r.headers["retry-after"]


def test_requests_pagination_walks_every_row_once(client: TestClient) -> None:
    org = make_org(client, "acme")
    now = time.time()
    same = now - 3600
    records = [make_record(org, created_at=now - i * 60) for i in range(120)]
    records += [make_record(org, created_at=same) for _ in range(7)]  # ties on created_at
    seed(client, records)
    sign_in(client, make_key(client, org, ["read"])["key"])

    def ids(html: str) -> list[str]:
        return [part.split('"')[0] for part in html.split('data-testid="request-row" id="')[1:]]

    def link(html: str, testid: str) -> str | None:
        marker = f'data-testid="{testid}"'
        for chunk in html.split('<a href="')[1:]:
            if marker in chunk.split(">")[0]:
                return chunk.split('"')[0].replace("&amp;", "&")
        return None

    seen: list[str] = []
    pages = []
    html = client.get("/dashboard/requests?range=7d").text
    while True:
        pages.append(html)
        seen += ids(html)
        older = link(html, "page-older")
        if older is None:
            break
        html = client.get("/dashboard/requests" + older).text
    assert len(seen) == 127 and len(set(seen)) == 127
    assert [len(ids(p)) for p in pages] == [50, 50, 27]
    # Newer from the last page gives back the middle page.
    newer = link(pages[-1], "page-newer")
    assert newer is not None
    assert ids(client.get("/dashboard/requests" + newer).text) == ids(pages[1])


# -- the date range matches GET /v1/usage ----------------------------------------------------
def test_presets_are_usage_queries() -> None:
    now = datetime(2025, 3, 31, 12, 30, tzinfo=UTC)
    assert parse_range({}, now).start == date_range({}, now)[0]
    assert (parse_range({}, now).start, parse_range({}, now).end) == date_range({}, now)
    assert parse_range({"range": "24h"}, now).start == now - timedelta(hours=24)
    assert parse_range({"range": "7d"}, now).start == datetime(2025, 3, 25, tzinfo=UTC)
    assert parse_range({"range": "90d"}, now).start == datetime(2025, 1, 1, tzinfo=UTC)
    custom = parse_range({"from": "2025-03-01", "to": "2025-03-03", "range": "7d"}, now)
    assert custom.preset is None and (custom.start, custom.end) == date_range(
        {"from": "2025-03-01", "to": "2025-03-03"}, now
    )
    assert custom.from_date == "2025-03-01" and custom.to_date == "2025-03-03"
    assert usage_params("30d", now) == {}


def test_overview_numbers_equal_v1_usage(client: TestClient) -> None:
    org = make_org(client, "acme")
    seed(client, history(org, 10, 12))
    key = make_key(client, org, ["read"])["key"]
    sign_in(client, key)
    html = client.get("/dashboard?range=7d").text
    start = html.split('data-from="')[1].split('"')[0]
    end = html.split('data-to="')[1].split('"')[0]
    usage = client.get("/v1/usage", params={"from": start, "to": end}, headers=auth(key)).json()

    def value(testid: str) -> str:
        return html.split(f'data-testid="{testid}"')[1].split('data-value="')[1].split('"')[0]

    assert int(value("kpi-requests")) == usage["total_requests"] > 0
    assert float(value("kpi-cost")) == pytest.approx(usage["total_cost"])
    assert float(value("kpi-premium_cost")) == pytest.approx(usage["total_premium_cost"])
    assert float(value("kpi-savings")) == pytest.approx(usage["total_savings"])
    assert float(value("kpi-success_rate")) == pytest.approx(usage["success_rate"])
    assert float(value("latency-p50")) == pytest.approx(usage["latency_p50_ms"])
    assert float(value("latency-p95")) == pytest.approx(usage["latency_p95_ms"])


# -- the queries behind the pages, on both dialects ------------------------------------------
async def test_usage_series_per_hour_and_day(db: Any) -> None:
    """Both dialects: buckets by UTC hour and day, with failures and mean latency; whole
    hours come from the rollups, the range's partial edges from raw rows."""
    now = time.time()
    two_hours_ago = now - 7200
    recs = [make_record("org_a", latency=100, created_at=two_hours_ago) for _ in range(2)]
    recs += [make_record("org_a", latency=400, status=502, created_at=now - 5)]
    recs += [make_record("org_b", created_at=now - 5)]
    await db.write_records(recs)
    start = datetime.now(UTC) - timedelta(hours=5, minutes=30)
    end = datetime.now(UTC) + timedelta(minutes=1)
    hours = await db.usage_series("org_a", start, end, "hour")
    assert [h["requests"] for h in hours] == [2, 1]
    first, last = hours
    assert first["bucket"] == datetime.fromtimestamp(two_hours_ago, UTC).strftime("%Y-%m-%dT%H")
    assert first["failed"] == 0 and first["avg_latency_ms"] == pytest.approx(100)
    assert last["failed"] == 1 and last["avg_latency_ms"] == pytest.approx(400)
    days = await db.usage_series("org_a", start, end, "day")
    assert sum(d["requests"] for d in days) == 3 and all(len(d["bucket"]) == 10 for d in days)
    recent = datetime.now(UTC) - timedelta(minutes=30)
    minutes = await db.usage_series("org_a", recent, end, "minute")
    assert [(len(m["bucket"]), m["requests"], m["failed"]) for m in minutes] == [(16, 1, 1)]
    assert minutes[0]["bucket"] == datetime.fromtimestamp(now - 5, UTC).strftime("%Y-%m-%dT%H:%M")


async def test_spend_by_key(db: Any) -> None:
    recs = [make_record("org_a", key_id="key_1", cost="0.25") for _ in range(2)]
    recs += [make_record("org_a", key_id="key_2", cost="0.1", status=500)]
    recs += [make_record("org_a", key_id=None, cost="0.01")]
    recs += [make_record("org_b", key_id="key_9", cost="9")]
    await db.write_records(recs)
    start = datetime.now(UTC) - timedelta(days=1)
    end = datetime.now(UTC) + timedelta(minutes=1)
    rows = await db.spend_by_key("org_a", start, end)
    assert [(r["key_id"], r["requests"], r["failed"]) for r in rows] == [
        ("key_1", 2, 0),
        ("key_2", 1, 1),
        (None, 1, 0),
    ]
    assert rows[0]["cost"] == Decimal("0.5") and rows[0]["last_at"] is not None


async def test_fallbacks_breakdown_and_has_requests(db: Any) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    end = datetime.now(UTC) + timedelta(minutes=1)
    assert not await db.has_requests("org_a")
    recs = [make_record("org_a", model="m1", task="chat", latency=100) for _ in range(3)]
    recs += [make_record("org_a", model="m2", task="coding", latency=300, cost="0.5")]
    recs += [make_record("org_b", model="m9")]
    recs[0].fallback_count = 2
    recs[1].fallback_count = 1
    await db.write_records(recs)
    assert await db.has_requests("org_a") and not await db.has_requests("org_c")
    assert await db.fallback_totals("org_a", start, end) == {
        "fallbacks": 3,
        "requests_with_fallback": 2,
    }
    pairs = await db.model_task_breakdown("org_a", start, end)
    assert [(p["model"], p["task_type"], p["requests"]) for p in pairs] == [
        ("m1", "chat", 3),
        ("m2", "coding", 1),
    ]
    assert pairs[1]["cost"] == Decimal("0.5") and pairs[0]["latency_sum_ms"] == 300.0
    assert len(await db.model_task_breakdown("org_a", start, end, limit=1)) == 1


async def test_recent_requests_keyset_pages(db: Any) -> None:
    now = time.time()
    recs = [make_record("org_a", created_at=now - i) for i in range(9)]
    recs += [make_record("org_a", created_at=now - 100) for _ in range(4)]  # a tie
    recs += [make_record("org_b", created_at=now)]
    await db.write_records(recs)
    start = datetime.now(UTC) - timedelta(hours=1)
    end = datetime.now(UTC) + timedelta(minutes=1)
    seen = []
    before = None
    while True:
        page = await db.recent_requests("org_a", start, end, before=before, limit=4)
        if not page:
            break
        seen += [r["id"] for r in page]
        before = (page[-1]["created_at"], page[-1]["id"])
    assert len(seen) == 13 == len(set(seen))
    expected = sorted(
        (r for r in recs if r.org_id == "org_a"),
        key=lambda r: (r.created_at, r.request_id),
        reverse=True,
    )
    assert seen == [r.request_id for r in expected]
    first = await db.recent_requests("org_a", start, end, limit=4)
    assert first[0]["reason"] == "test" and first[0]["candidates"] == []
    assert isinstance(first[0]["created_at"], datetime) and first[0]["status"] == 200
    # ``after`` pages back towards the newest.
    third = await db.recent_requests(
        "org_a", start, end, after=(first[-1]["created_at"], first[-1]["id"]), limit=20
    )
    assert [r["id"] for r in third] == seen[:3]


# -- formatting and charts -------------------------------------------------------------------
def test_money_and_axes() -> None:
    assert fmt.money(Decimal("1234.5")) == "$1,234.50"
    assert fmt.money(Decimal("0.0123")) == "$0.0123"
    assert fmt.money(Decimal("0.00001234")) == "$0.000012"
    assert fmt.money(Decimal("-0.5")) == "-$0.5000"
    assert fmt.money(0) == "$0.00"
    assert fmt.pct(None) == "—" and fmt.pct(0.975) == "97.5%"
    assert charts.nice_step(0.9) == 0.25 and charts.nice_step(1000) == 250
    assert charts.domain([3, 7, 11]) == (0.0, 15.0, 5.0)
    assert charts.domain([-3.0, 1.0]) == (-3.0, 1.0, 1.0)
    assert charts.domain([]) == (0.0, 1.0, 0.25)


def test_charts_escape_and_handle_negative_and_empty_series() -> None:
    svg = charts.bar_chart("t<x>", ["<b>", "b"], [-2.0, 5.0], fmt.count_axis)
    assert "&lt;b&gt;" in svg and "t&lt;x&gt;" in svg and 'class="s0 neg"' in svg
    flat = charts.line_chart("flat", ["a", "b"], [charts.Series("s", [0.0, 0.0])], fmt.money_axis)
    assert "<polyline" in flat and "nan" not in flat.lower()
    both = charts.responsive(
        lambda size: charts.bar_chart("r", ["a"], [1.0], fmt.count_axis, size=size)
    )
    assert 'class="chart wide"' in both and 'class="chart narrow"' in both


@pytest.mark.postgres
def test_a_postgres_outage_is_a_503_page_and_recovers(tmp_path: Path) -> None:
    import psycopg

    from tests.test_storage_support import PG_ADMIN_URL, postgres_database

    with postgres_database() as url:
        name = url.rsplit("/", 1)[1]
        config = load_config(env={"OMNI_DATABASE_URL": url, "OMNI_MASTER_KEY": MASTER}, demo=True)
        with TestClient(create_app(config)) as client:
            sign_in(client, MASTER)
            assert client.get("/dashboard").status_code == 200
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')  # type: ignore[arg-type]
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
            try:
                r = client.get("/dashboard/usage")
                assert r.status_code == 503
                assert 'data-testid="db-down"' in r.text and "Traceback" not in r.text
            finally:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')  # type: ignore[arg-type]
            deadline = time.monotonic() + 30
            while client.get("/dashboard/usage").status_code != 200:
                assert time.monotonic() < deadline, "the dashboard did not recover"
                time.sleep(0.5)


def test_a_plugin_key_cannot_open_a_session(tmp_path: Path) -> None:
    """A key only a plugin's ``authenticate`` knows cannot be re-checked on each page."""
    from omni_proxy.plugins import get_plugin_manager, hookimpl
    from omni_proxy.types import Principal

    class SSO:
        @hookimpl
        def authenticate(self, api_key: str | None) -> Principal | None:
            if api_key == "sso-token-123":
                return Principal("org_sso", key_id="sso_key", permissions=frozenset({"read"}))
            return None

    pm = get_plugin_manager()
    pm.register(SSO(), name="test-sso")
    config = load_config(
        env={"OMNI_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "OMNI_MASTER_KEY": MASTER},
        demo=True,
    )
    with TestClient(create_app(config, pm=pm)) as client:
        assert client.get("/v1/usage", headers=auth("sso-token-123")).status_code == 200
        r = sign_in(client, "sso-token-123")
        assert r.status_code == 403 and "cannot open a dashboard session" in r.text
        assert COOKIE not in client.cookies
