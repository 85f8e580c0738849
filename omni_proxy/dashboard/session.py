"""Dashboard sessions: a signed cookie that carries the signed-in key's principal.

The cookie holds the principal (org, key id, permissions), never the key. It is
``base64url(JSON) . base64url(HMAC-SHA256)`` under a key derived from ``OMNI_KEY_SECRET``
(the secret every instance shares) or, without it, from a random per-process secret — then
sessions end when the process restarts and do not carry over between ``--workers``.

Every page re-checks the principal against what the proxy currently accepts: a database key
must still be in the key cache (``Services.keys``; a revoked, expired or deleted key drops
out within its refresh interval) and belong to the same org; the master key's session holds
a fingerprint of the master key, so changing ``OMNI_MASTER_KEY`` ends it.

CSRF: the cookies are ``SameSite=Strict`` and every POST carries a token as well (the
session's token once signed in; before that a double-submit token in its own cookie), and a
POST whose ``Sec-Fetch-Site`` or ``Origin`` says it came from another site is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..defaults.auth import MASTER
from ..services import services
from ..types import Principal
from .guard import SignedOut, SignInThrottle

log = logging.getLogger("omni_proxy.dashboard")

COOKIE = "omni_dash"
LOGIN_COOKIE = "omni_dash_login"
COOKIE_PATH = "/dashboard"
SESSION_TTL_S = 12 * 3600
LOGIN_TTL_S = 3600
_CONTEXT = b"omni-proxy dashboard session v1"
_PROCESS_SECRET = secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 signing of small JSON payloads."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, _CONTEXT, hashlib.sha256).digest()

    def sign(self, payload: dict[str, Any]) -> str:
        body = _b64(orjson.dumps(payload))
        return f"{body}.{self._mac(body)}"

    def unsign(self, token: str | None) -> dict[str, Any] | None:
        """The payload of a token this signer made, else None (tampered, foreign, garbage)."""
        if not token or token.count(".") != 1 or len(token) > 4096:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            payload = orjson.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        return payload if isinstance(payload, dict) else None

    def fingerprint(self, value: str) -> str:
        """A keyed digest of a secret, to recognise it later without storing it."""
        return hmac.new(self._key, b"fp:" + value.encode(), hashlib.sha256).hexdigest()[:32]

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())


_warned = False


def signer_for(request: Request) -> Signer:
    """The app's signer (made on first use from ``OMNI_KEY_SECRET`` or the process secret)."""
    state = services(request)
    signer: Signer | None = state.dashboard_signer
    if signer is None:
        global _warned
        secret = os.environ.get("OMNI_KEY_SECRET")
        if not secret and not _warned:
            log.warning(
                "OMNI_KEY_SECRET is not set: dashboard sessions are signed with a random "
                "per-process secret, end when the process restarts and are not shared between "
                "workers or instances. Set OMNI_KEY_SECRET."
            )
            _warned = True
        signer = Signer(secret.encode() if secret else _PROCESS_SECRET)
        state.dashboard_signer = signer
    return signer


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: who (the principal, as the proxy accepts it now) and which org
    it is looking at."""

    principal: Principal
    view_org: str
    csrf: str
    expires: int
    payload: dict[str, Any]

    @property
    def global_admin(self) -> bool:
        return self.principal.key_id is None and self.principal.can("admin")


def new_payload(signer: Signer, principal: Principal, master_key: str | None) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "k": principal.key_id,
        "o": principal.org_id,
        "n": principal.org_name,
        "p": sorted(principal.permissions),
        "v": principal.org_id,
        "c": secrets.token_urlsafe(24),
        "iat": now,
        "exp": now + SESSION_TTL_S,
    }
    if principal.key_id is None and master_key:
        payload["m"] = signer.fingerprint(master_key)
    return payload


def _cached_key(cache: Any, key_id: str) -> Any:
    """The key cache's entry for a key id (None if the key is no longer usable)."""
    if cache is None:
        return None
    by_id = getattr(cache, "by_id", None)
    if callable(by_id):
        return by_id(key_id)
    for entry in getattr(cache, "_by_prefix", {}).values():
        if entry.id == key_id:
            return entry
    return None


def current_principal(request: Request, payload: dict[str, Any]) -> Principal | None:
    """The principal a session payload stands for, as the proxy accepts it now (None if its
    key was revoked, expired or moved, or the master key changed, or it cannot read)."""
    key_id = payload.get("k")
    principal: Principal
    if key_id is None:
        master = services(request).config.master_key
        fingerprint = str(payload.get("m") or "")
        expected = signer_for(request).fingerprint(master) if master else ""
        if not master or not hmac.compare_digest(fingerprint, expected):
            return None
        principal = MASTER
    else:
        entry = _cached_key(services(request).keys, str(key_id))
        if entry is None or entry.org_id != payload.get("o"):
            return None
        if entry.expires_at is not None and entry.expires_at <= time.time():
            return None
        principal = entry.principal()
    return principal if principal.can("read") else None


def load(request: Request) -> Session | None:
    """The request's session if its cookie is genuine, unexpired and its key still valid."""
    signer = signer_for(request)
    payload = signer.unsign(request.cookies.get(COOKIE))
    if payload is None:
        return None
    try:
        expires = int(payload["exp"])
        view_org = str(payload.get("v") or payload["o"])
        csrf = str(payload["c"])
    except (KeyError, TypeError, ValueError):
        return None
    if expires <= time.time():
        return None
    if csrf in signed_out(request):
        return None
    principal = current_principal(request, payload)
    if principal is None:
        return None
    session = Session(principal, principal.org_id, csrf, expires, payload)
    if session.global_admin:
        session = Session(principal, view_org, csrf, expires, payload)
    return session


def signed_out(request: Request) -> SignedOut:
    state = services(request)
    found: SignedOut | None = state.dashboard_signed_out
    if found is None:
        found = state.dashboard_signed_out = SignedOut()
    return found


def throttle(request: Request) -> SignInThrottle:
    state = services(request)
    found: SignInThrottle | None = state.dashboard_throttle
    if found is None:
        found = state.dashboard_throttle = SignInThrottle()
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def over_tls(request: Request) -> bool:
    """Whether the browser's connection is TLS: the request's own scheme, or
    ``X-Forwarded-Proto`` when it came from a proxy listed in ``trusted_proxies``."""
    if request.url.scheme == "https":
        return True
    trusted = getattr(services(request).config, "trusted_proxies", None) or ()
    if client_address(request) not in trusted:
        return False
    proto = request.headers.get("x-forwarded-proto", "")
    return proto.split(",")[0].strip().lower() == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=over_tls(request),
    )


def clear_cookie(request: Request, response: Response, name: str = COOKIE) -> None:
    response.delete_cookie(
        name,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=over_tls(request),
    )


def same_origin(request: Request) -> bool:
    """False when the browser says a POST came from another site.

    Browsers send ``Sec-Fetch-Site``; older ones only ``Origin``, compared with the host the
    request was sent to (``X-Forwarded-Host`` first, as a reverse proxy may rewrite ``Host``).
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return urlsplit(origin).netloc == host.split(",")[0].strip()


def token_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(
        str(expected).encode(), str(given).encode()
    )
