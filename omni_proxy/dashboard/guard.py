"""Sign-in throttling and signed-out sessions, kept in this process's memory.

* Throttle: after ``MAX_FAILURES`` refused keys within ``WINDOW_S`` from one client address,
  or for one key prefix, further sign-ins from it are refused (429) until the window ends,
  so guessing keys through the sign-in form is as slow as through the API's rate limits.
* Sign-out: a session's id (its CSRF token, unique per sign-in) is remembered until the
  session would have expired, so the cookie is dead even if the browser (or someone who
  copied it) keeps it. Per instance: behind several instances a copied cookie still works on
  the others until it expires.
"""

from __future__ import annotations

import time

MAX_FAILURES = 5
WINDOW_S = 60.0
#: Entries kept at most (oldest dropped first): memory stays bounded under a flood.
MAX_ENTRIES = 100_000


class SignInThrottle:
    def __init__(self) -> None:
        self._failures: dict[str, tuple[float, int]] = {}

    def _keys(self, client: str, api_key: str) -> list[str]:
        return [f"ip:{client}", f"key:{api_key[:16]}"]

    def blocked(self, client: str, api_key: str) -> float:
        """Seconds until ``client`` / this key may try again (0: now)."""
        now = time.monotonic()
        wait = 0.0
        for name in self._keys(client, api_key):
            start, count = self._failures.get(name, (now, 0))
            if now - start < WINDOW_S and count >= MAX_FAILURES:
                wait = max(wait, WINDOW_S - (now - start))
        return wait

    def failed(self, client: str, api_key: str) -> None:
        now = time.monotonic()
        if len(self._failures) >= MAX_ENTRIES:
            self._failures = {k: v for k, v in self._failures.items() if now - v[0] < WINDOW_S}
            if len(self._failures) >= MAX_ENTRIES:
                self._failures.clear()
        for name in self._keys(client, api_key):
            start, count = self._failures.get(name, (now, 0))
            if now - start >= WINDOW_S:
                start, count = now, 0
            self._failures[name] = (start, count + 1)


class SignedOut:
    """Session ids signed out before their expiry."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def add(self, session_id: str, expires: float) -> None:
        now = time.time()
        if len(self._until) >= MAX_ENTRIES:
            self._until = {k: t for k, t in self._until.items() if t > now}
        self._until[session_id] = expires

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._until
