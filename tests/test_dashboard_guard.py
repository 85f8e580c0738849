"""Dashboard sign-in is throttled, sign-out ends the session server-side, and cookies are
``Secure`` behind a trusted TLS-terminating proxy (issue 15), against a real proxy."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.test_dashboard_support import csrf_of, sign_in


def test_sign_in_is_throttled_and_sign_out_revokes(tmp_path: Path) -> None:
    with (
        ProxyProcess(tmp_path, {"demo": True}) as proxy,
        httpx.Client(base_url=proxy.root) as browser,
    ):
        statuses = [
            sign_in(browser, "sk-omni-abcdefgh-wrong" + str(i)).status_code for i in range(7)
        ]
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses
    # The throttle is by address too, so the master key would wait here: a fresh process.
    with ProxyProcess(tmp_path, {"demo": True}) as proxy:
        with httpx.Client(base_url=proxy.root) as browser:
            assert sign_in(browser, MASTER_KEY).status_code == 303
            stolen = dict(browser.cookies)
            assert browser.get("/dashboard").status_code == 200
            token = csrf_of(browser.get("/dashboard").text)
            r = browser.post("/dashboard/logout", data={"csrf": token}, follow_redirects=False)
            assert r.status_code == 303
        # The cookie copied before sign-out no longer opens anything.
        with httpx.Client(base_url=proxy.root, cookies=stolen) as thief:
            r = thief.get("/dashboard", follow_redirects=False)
            assert r.status_code in (302, 303), r.status_code


def test_cookie_is_secure_only_behind_a_trusted_proxy(tmp_path: Path) -> None:
    def login_cookie(proxy: ProxyProcess, headers: dict[str, str]) -> str:
        r = httpx.get(proxy.root + "/dashboard/login", headers=headers)
        assert r.status_code == 200
        return r.headers["set-cookie"].lower()

    https = {"x-forwarded-proto": "https"}
    config = {"demo": True, "trusted_proxies": ["127.0.0.1"]}
    with ProxyProcess(tmp_path, config) as proxy:
        assert "; secure" in login_cookie(proxy, https)
        assert "; secure" not in login_cookie(proxy, {})
    with ProxyProcess(tmp_path, {"demo": True}) as proxy:  # not trusted: the header is ignored
        assert "; secure" not in login_cookie(proxy, https)
