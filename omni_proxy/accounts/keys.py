"""API keys: format, hashing, the in-memory cache, management functions and the CLI.

A key reads ``sk-omni-<prefix>-<secret>``: ``prefix`` is 8 lowercase letters/digits, stored
in clear and used to find the key; the whole key is stored only as a keyed hash,
HMAC-SHA256 under the server secret ``OMNI_KEY_SECRET``. Every instance (and the CLI) must
share that secret: keys hashed under one secret do not verify under another. Without it a
fixed built-in secret is used and a warning is logged: the hashes are then no better than
unkeyed SHA-256, so set ``OMNI_KEY_SECRET`` in production.

The request path never reads the database for a known key: ``KeyCache`` holds every
usable key in memory and every ``refresh_s`` seconds (2 by default) reloads what changed
(keys created or revoked since, orgs' limits; everything every ``FULL_RELOAD_S``), so a
key revoked on any instance stops working everywhere within that interval. A well-formed
key whose prefix is unknown (created on another instance or from the CLI since) is looked
up once in the database, single-flight and rate bounded, misses remembered briefly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import string
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..storage import Database
from ..types import PERMISSIONS, Principal

log = logging.getLogger("omni_proxy.keys")

#: A key's own budget resets at the start of each (UTC) period; ``total`` never resets.
BUDGET_PERIODS = ("daily", "weekly", "monthly", "total")
KEY_PREFIX = "sk-omni-"
PREFIX_LEN = 8
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_DEFAULT_SECRET = "omni-proxy-default-key-secret-set-OMNI_KEY_SECRET"
_warned = False


class KeyRequestError(ValueError):
    """A key request that cannot be honoured (unknown org, bad permission…)."""


def server_secret() -> bytes:
    global _warned
    secret = os.environ.get("OMNI_KEY_SECRET")
    if secret:
        return secret.encode()
    if not _warned:
        log.warning(
            "OMNI_KEY_SECRET is not set: API keys are hashed under a built-in secret. "
            "Set OMNI_KEY_SECRET (the same value on every instance) in production."
        )
        _warned = True
    return _DEFAULT_SECRET.encode()


def hash_key(key: str, secret: bytes | None = None) -> str:
    return hmac.new(secret or server_secret(), key.encode(), hashlib.sha256).hexdigest()


def generate_key() -> tuple[str, str]:
    """A new key and its prefix."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LEN))
    return f"{KEY_PREFIX}{prefix}-{secrets.token_urlsafe(32)}", prefix


def parse_prefix(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + PREFIX_LEN + 2:
        return None
    prefix = key[len(KEY_PREFIX) : len(KEY_PREFIX) + PREFIX_LEN]
    if key[len(KEY_PREFIX) + PREFIX_LEN] != "-" or any(c not in _PREFIX_ALPHABET for c in prefix):
        return None
    return prefix


def parse_permissions(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if value is None:
        return ["read", "write"]
    items = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(p, str) for p in items):
        raise KeyRequestError("permissions must be strings: some of " + ", ".join(PERMISSIONS))
    perms = [p.strip() for p in items if p and p.strip()]
    unknown = [p for p in perms if p not in PERMISSIONS]
    if unknown or not perms:
        what = f"unknown permission {unknown[0]!r}" if unknown else "no permission given"
        raise KeyRequestError(f"{what}; expected some of {', '.join(PERMISSIONS)}")
    return [p for p in PERMISSIONS if p in perms]


# -- management -----------------------------------------------------------------------------
async def ensure_org(db: Database, name: str) -> dict[str, Any]:
    org = await db.get_org_by_name(name)
    if org is None:
        try:
            org = await db.create_org(name)
        except Exception:
            # Created concurrently by someone else?
            org = await db.get_org_by_name(name)
            if org is None:
                raise
    return org


async def create_key(
    db: Database,
    org_id: str,
    *,
    name: str | None = None,
    permissions: str | list[str] | None = None,
    expires_at: datetime | None = None,
    rpm_limit: int | None = None,
    tpm_limit: int | None = None,
    models: list[str] | None = None,
    max_budget_usd: Decimal | None = None,
    budget_period: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Create a key in an org; return the key (shown once) and its stored row."""
    perms = parse_permissions(permissions)
    check_budget_period(budget_period)
    org = await db.get_org(org_id)
    if org is None or org["deleted_at"] is not None:
        raise KeyRequestError(f"no organization with id {org_id!r}")
    from ..storage.common import new_id

    for _ in range(5):
        key, prefix = generate_key()
        try:
            row = await db.insert_key(
                key_id=new_id("key"),
                org_id=org_id,
                prefix=prefix,
                secret_hash=hash_key(key),
                permissions=perms,
                name=name,
                expires_at=expires_at,
                rpm_limit=rpm_limit,
                tpm_limit=tpm_limit,
                models=models,
                max_budget_usd=max_budget_usd,
                budget_period=(budget_period or "monthly") if max_budget_usd is not None else None,
            )
        except Exception:
            # A prefix collision (36^8 space) is the only expected failure: try another.
            if any(k["prefix"] == prefix for k in await db.list_keys()):
                continue
            raise
        return key, row
    raise KeyRequestError("could not allocate a unique key prefix")


def check_budget_period(value: str | None) -> None:
    if value is not None and value not in BUDGET_PERIODS:
        raise KeyRequestError(f"budget_period must be one of {', '.join(BUDGET_PERIODS)}")


async def rotate_key(
    db: Database, key_id: str, *, grace_s: float = 0, org_id: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    """A new secret for a key (same id, org and settings); the old secret keeps working for
    ``grace_s`` seconds (0: revoked at once). None when there is no such active key."""
    grace_until = datetime.fromtimestamp(time.time() + grace_s, UTC) if grace_s > 0 else None
    for _ in range(5):
        key, prefix = generate_key()
        try:
            row = await db.rotate_key(
                key_id,
                prefix=prefix,
                secret_hash=hash_key(key),
                grace_until=grace_until,
                org_id=org_id,
            )
        except Exception:
            if any(k["prefix"] == prefix for k in await db.list_keys()):
                continue  # a prefix collision: try another
            raise
        return None if row is None else (key, row)
    raise KeyRequestError("could not allocate a unique key prefix")


# -- the cache ------------------------------------------------------------------------------
@dataclass(slots=True, frozen=True)
class CachedKey:
    id: str
    org_id: str
    org_name: str | None
    secret_hash: str
    permissions: frozenset[str]
    expires_at: float | None
    limits: dict[str, Any] = field(default_factory=dict)

    def principal(self) -> Principal:
        return Principal(
            org_id=self.org_id,
            key_id=self.id,
            permissions=self.permissions,
            org_name=self.org_name,
            limits=self.limits,
        )


def _money(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def _cached(row: dict[str, Any]) -> CachedKey:
    expires = row.get("expires_at")
    models = row.get("models")
    key_budget = _money(row.get("max_budget_usd"))
    limits = {
        "key_rpm": row.get("rpm_limit"),
        "key_tpm": row.get("tpm_limit"),
        "org_rpm": row.get("org_rpm_limit"),
        "org_tpm": row.get("org_tpm_limit"),
        "monthly_budget_usd": _money(row.get("monthly_budget_usd")),
        "soft_budget_usd": _money(row.get("soft_budget_usd")),
        "models": frozenset(models) if models else None,
        "key_budget_usd": key_budget,
        "key_budget_period": (row.get("budget_period") or "monthly") if key_budget else None,
        "guardrails": row.get("org_guardrails") or None,
    }
    return CachedKey(
        id=row["id"],
        org_id=row["org_id"],
        org_name=row.get("org_name"),
        secret_hash=row["secret_hash"],
        permissions=frozenset(p for p in str(row["permissions"]).split(",") if p),
        expires_at=expires.timestamp() if isinstance(expires, datetime) else None,
        limits={k: v for k, v in limits.items() if v is not None},
    )


def _previous(row: dict[str, Any]) -> CachedKey:
    """A rotated key's old secret, valid until its grace period (or the key) ends."""
    current = _cached(row)
    ends = [
        t.timestamp()
        for t in (row.get("prev_expires_at"), row.get("expires_at"))
        if isinstance(t, datetime)
    ]
    return CachedKey(
        id=current.id,
        org_id=current.org_id,
        org_name=current.org_name,
        secret_hash=row["prev_secret_hash"],
        permissions=current.permissions,
        expires_at=min(ends) if ends else 0.0,
        limits=current.limits,
    )


def _add_previous(by_prefix: dict[str, CachedKey], row: dict[str, Any]) -> None:
    """A key rotated with a grace period answers to its old secret too, until that ends."""
    if row.get("prev_prefix") and row.get("prev_secret_hash"):
        by_prefix.setdefault(row["prev_prefix"], _previous(row))


#: Everything is reloaded this often (changes alone in between): a safety net for changes
#: made around the database's back.
FULL_RELOAD_S = 300.0
#: Each incremental reload looks this far behind the previous one's start (clock skew
#: between instances, transactions that committed late).
OVERLAP_S = 10.0
#: A prefix the database did not know is not asked about again for this long.
MISS_TTL_S = 5.0
#: Database look-ups for unknown prefixes per second at most (a burst of as many): a flood
#: of made-up keys cannot hammer the database.
MISS_LOOKUPS_PER_S = 20.0


class KeyCache:
    """Every usable key in memory, by prefix; reloaded from the database in the background.

    A well-formed key whose prefix the cache does not know (created from the CLI or on
    another instance since the last reload) is looked up in the database once: one query
    per prefix at a time, misses remembered for ``MISS_TTL_S``, at most
    ``MISS_LOOKUPS_PER_S`` queries a second."""

    def __init__(self, db: Database, *, refresh_s: float = 2.0) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self.secret = server_secret()
        self._by_prefix: dict[str, CachedKey] = {}
        self._misses: dict[str, float] = {}
        self._pending: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._tokens = MISS_LOOKUPS_PER_S
        self._tokens_at = time.monotonic()
        self._since: datetime | None = None
        self._full_at = 0.0
        self._orgs: dict[str, tuple[Any, ...]] = {}
        self._used: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.loaded_at: float | None = None
        self.failures = 0

    def __len__(self) -> int:
        return len(self._by_prefix)

    async def refresh(self, *, full: bool = False) -> None:
        """Reload what changed since the last reload (keys created, rotated or revoked, orgs'
        settings), or everything every ``FULL_RELOAD_S``: a million keys cost what a hundred
        do. A key changed in place (``PATCH``) reaches other instances at the full reload."""
        started = datetime.now(UTC)
        incremental = hasattr(self.db, "revoked_prefixes") and hasattr(self.db, "org_settings")
        if full or not incremental or self._since is None or self._full_due():
            rows = await self.db.active_keys()
            by_prefix = {r["prefix"]: _cached(r) for r in rows}
            for row in rows:
                _add_previous(by_prefix, row)
            self._by_prefix = by_prefix
            if incremental:
                self._orgs = await self.db.org_settings()
            self._full_at = time.monotonic()
        else:
            since = self._since - timedelta(seconds=OVERLAP_S)
            gone = await self.db.revoked_prefixes(since)
            added = await self.db.active_keys(created_since=since)
            orgs = await self.db.org_settings()
            for prefix in gone:
                self._by_prefix.pop(prefix, None)
            for row in added:
                # A rotated key comes back under its new prefix: its old entries go first.
                for old in [p for p, k in self._by_prefix.items() if k.id == row["id"]]:
                    del self._by_prefix[old]
                self._by_prefix[row["prefix"]] = _cached(row)
                _add_previous(self._by_prefix, row)
            changed = {org for org, value in orgs.items() if self._orgs.get(org) != value}
            if changed:  # rare: a limit, budget or name changed, or an org was deleted
                self._apply_orgs(orgs, changed)
            self._orgs = orgs
        self._since = started
        self.loaded_at = time.monotonic()
        if self._used:
            used, self._used = list(self._used), set()
            try:
                await self.db.touch_keys(used, datetime.now(UTC))
            except Exception:
                log.debug("could not update last_used_at", exc_info=True)

    def _full_due(self) -> bool:
        return time.monotonic() - self._full_at >= FULL_RELOAD_S

    def _apply_orgs(self, orgs: dict[str, tuple[Any, ...]], changed: set[str]) -> None:
        for prefix, entry in list(self._by_prefix.items()):
            if entry.org_id not in changed:
                continue
            org = orgs.get(entry.org_id)
            if org is None or org[4]:  # deleted
                del self._by_prefix[prefix]
                continue
            name, rpm, tpm, budget, _, soft, guardrails = org
            # The key's own settings stay; the org's are taken afresh.
            limits = {
                k: v for k, v in entry.limits.items() if k.startswith("key_") or k == "models"
            }
            for key, value in (("org_rpm", rpm), ("org_tpm", tpm), ("guardrails", guardrails)):
                if value is not None:
                    limits[key] = value
            for key, money in (("monthly_budget_usd", budget), ("soft_budget_usd", soft)):
                if money is not None:
                    limits[key] = Decimal(str(money))
            self._by_prefix[prefix] = replace(entry, org_name=name, limits=limits)

    def add(self, row: dict[str, Any]) -> None:
        """Make a key created on this instance usable at once (before the next reload)."""
        self._by_prefix[row["prefix"]] = _cached(row)

    def drop(self, key_id: str) -> None:
        self._by_prefix = {p: k for p, k in self._by_prefix.items() if k.id != key_id}

    def drop_org(self, org_id: str) -> None:
        self._by_prefix = {p: k for p, k in self._by_prefix.items() if k.org_id != org_id}

    def org_limits(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        """Each org with a usable key: its limits and name (every key of an org carries them)."""
        orgs: dict[str, tuple[dict[str, Any], str | None]] = {}
        for entry in list(self._by_prefix.values()):
            orgs.setdefault(entry.org_id, (entry.limits, entry.org_name))
        return orgs

    def lookup(self, api_key: str) -> Principal | None:
        """The principal for a key, from memory only; None if unknown, revoked or expired."""
        prefix = parse_prefix(api_key)
        if prefix is None:
            return None
        entry = self._by_prefix.get(prefix)
        if entry is None:
            return None
        digest = hmac.new(self.secret, api_key.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(digest, entry.secret_hash):
            return None
        if entry.expires_at is not None and entry.expires_at <= time.time():
            return None
        self._used.add(entry.id)
        return entry.principal()

    def knows(self, api_key: str) -> bool:
        """Whether the key's prefix is in memory (then ``lookup`` has the final word)."""
        prefix = parse_prefix(api_key)
        return prefix is None or prefix in self._by_prefix

    async def lookup_missing(self, api_key: str) -> Principal | None:
        """``lookup`` for a key whose prefix is not in memory: asked of the database."""
        prefix = parse_prefix(api_key)
        if prefix is None:
            return None
        now = time.monotonic()
        if self._misses.get(prefix, 0.0) > now:
            return None
        pending = self._pending.get(prefix)
        if pending is None:
            if not self._take_token(now):
                return None
            pending = asyncio.ensure_future(self._fetch(prefix))
            self._pending[prefix] = pending
            pending.add_done_callback(lambda _: self._pending.pop(prefix, None))
        try:
            row = await asyncio.shield(pending)
        except Exception as exc:
            log.debug("key look-up failed: %s", exc)
            return None
        if row is None:
            if len(self._misses) > 10_000:
                self._misses = {p: t for p, t in self._misses.items() if t > now}
            self._misses[prefix] = now + MISS_TTL_S
            return None
        if prefix not in self._by_prefix:
            self._by_prefix[prefix] = _cached(row)
        return self.lookup(api_key)

    async def _fetch(self, prefix: str) -> dict[str, Any] | None:
        rows = await self.db.active_keys(prefix)
        return rows[0] if rows else None

    def _take_token(self, now: float) -> bool:
        self._tokens = min(
            MISS_LOOKUPS_PER_S, self._tokens + (now - self._tokens_at) * MISS_LOOKUPS_PER_S
        )
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="omni-key-cache")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
                if self.failures:
                    log.warning("key cache: database is back")
                self.failures = 0
            except Exception as exc:
                if not self.failures:
                    log.warning("key cache: reload failed (%s); keeping the cached keys", exc)
                self.failures += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


# -- CLI ------------------------------------------------------------------------------------
def _open(config_path: str | None) -> Any:
    from ..config import load_config

    return load_config(config_path)


async def _with_db(config: Any) -> Database:
    from ..storage import open_database

    db = await open_database(config.database_url)
    await db.migrate()
    return db


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def cmd_migrate(args: argparse.Namespace) -> int:
    async def run() -> list[str]:
        from ..storage import open_database

        db = await open_database(_open(args.config).database_url)
        try:
            return await db.migrate()
        finally:
            await db.close()

    applied = asyncio.run(run())
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    if not args.org.strip():
        print("omni-proxy: --org needs an organization name (got an empty one)", file=sys.stderr)
        return 2

    async def run() -> tuple[str, dict[str, Any], dict[str, Any]]:
        db = await _with_db(_open(args.config))
        try:
            from .audit import record_change

            existed = await db.get_org_by_name(args.org)
            org = await ensure_org(db, args.org)
            if existed is None:
                await record_change(
                    db, None, "org.create", "org", org["id"], org_id=org["id"], after=org
                )
            models = (
                [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
            )
            key, row = await create_key(
                db,
                org["id"],
                name=args.name,
                permissions=args.permissions,
                models=models or None,
                max_budget_usd=args.budget,
                budget_period=args.budget_period,
            )
            await record_change(
                db, None, "key.create", "api_key", row["id"], org_id=row["org_id"], after=row
            )
            return key, row, org
        finally:
            await db.close()

    try:
        key, row, org = asyncio.run(run())
    except KeyRequestError as exc:
        print(f"omni-proxy: {exc}", file=sys.stderr)
        return 2
    print(
        f"created key {row['id']} in org {org['name']} ({org['id']}) with permissions "
        f"{','.join(row['permissions'])}; it is shown once, store it now:"
    )
    print(key)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    async def run() -> list[dict[str, Any]] | None:
        db = await _with_db(_open(args.config))
        try:
            org_id = None
            if args.org:
                org = await db.get_org_by_name(args.org)
                if org is None:
                    return None
                org_id = org["id"]
            return await db.list_keys(org_id)
        finally:
            await db.close()

    keys = asyncio.run(run())
    if keys is None:
        print(f"omni-proxy: no organization named {args.org!r}", file=sys.stderr)
        return 2
    rows = [
        [
            k["id"],
            k.get("org_name") or k["org_id"],
            k["name"] or "-",
            k["prefix"],
            ",".join(k["permissions"]),
            k["created_at"] or "-",
            k["revoked_at"] or "-",
        ]
        for k in keys
    ]
    print(_table(rows, ["id", "org", "name", "prefix", "permissions", "created", "revoked"]))
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    async def run() -> tuple[str, dict[str, Any]] | None:
        db = await _with_db(_open(args.config))
        try:
            return await rotate_key(db, args.key_id, grace_s=args.grace_s)
        finally:
            await db.close()

    rotated = asyncio.run(run())
    if rotated is None:
        print(f"omni-proxy: no active key with id {args.key_id!r}", file=sys.stderr)
        return 1
    key, _ = rotated
    grace = f"valid for {args.grace_s:g} s more" if args.grace_s > 0 else "revoked"
    print(f"rotated {args.key_id}: the old secret is {grace}; the new key is shown once:")
    print(key)
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    async def run() -> bool:
        db = await _with_db(_open(args.config))
        try:
            from .audit import record_change

            if not await db.revoke_key(args.key_id):
                return False
            row = await db.get_key(args.key_id)
            await record_change(
                db,
                None,
                "key.revoke",
                "api_key",
                args.key_id,
                org_id=row["org_id"] if row else None,
                before={"revoked_at": None},
                after={"revoked_at": row and row["revoked_at"]},
            )
            return True
        finally:
            await db.close()

    if not asyncio.run(run()):
        print(f"omni-proxy: no active key with id {args.key_id!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}")
    return 0


def _usd(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"not an amount of USD: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not an amount of USD: {text!r}")
    return value


def add_commands(sub: Any) -> None:
    """Add ``migrate`` and ``keys create|list|revoke`` to the ``omni-proxy`` parser."""
    migrate = sub.add_parser("migrate", help="apply the sql/ migrations to the database")
    migrate.add_argument("--config", help="YAML config file (default: $OMNI_CONFIG)")
    migrate.set_defaults(func=cmd_migrate)

    keys = sub.add_parser("keys", help="create, list, rotate and revoke API keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True)

    create = ksub.add_parser("create", help="create a key (and its org if needed)")
    create.add_argument("--org", required=True, help="organization name")
    create.add_argument("--name", help="a label for the key")
    create.add_argument(
        "--permissions",
        default="read,write",
        help="comma-separated: read, write, admin (default read,write)",
    )
    create.add_argument("--models", help="comma-separated model names the key may use")
    create.add_argument(
        "--budget", type=_usd, help="the key's own budget in USD per --budget-period"
    )
    create.add_argument(
        "--budget-period", choices=BUDGET_PERIODS, help="daily, weekly, monthly (default), total"
    )
    create.add_argument("--config")
    create.set_defaults(func=cmd_keys_create)

    rotate = ksub.add_parser("rotate", help="a new secret for a key (same id and settings)")
    rotate.add_argument("key_id")
    rotate.add_argument(
        "--grace-s",
        type=float,
        default=0.0,
        help="seconds the old secret stays valid (default 0: revoked at once)",
    )
    rotate.add_argument("--config")
    rotate.set_defaults(func=cmd_keys_rotate)

    lst = ksub.add_parser("list", help="list keys (never their secrets)")
    lst.add_argument("--org", help="only this organization's keys")
    lst.add_argument("--config")
    lst.set_defaults(func=cmd_keys_list)

    revoke = ksub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    revoke.add_argument("--config")
    revoke.set_defaults(func=cmd_keys_revoke)


DEMO_ORG = "demo"
DEMO_KEY_NAME = "serve --demo"


def mint_demo_key(config: Any) -> str | None:
    """A new admin key in the ``demo`` org for ``serve --demo`` (sync), or None when the
    database does not outlive the process (in memory): a key per run, so a newcomer always
    gets one that works, whatever keys the database already holds."""
    url = str(config.database_url)
    if url.startswith("sqlite:") and (url.endswith(":memory:") or url.rstrip("/") == "sqlite:"):
        return None

    async def run() -> str:
        db = await _with_db(config)
        try:
            org = await ensure_org(db, DEMO_ORG)
            key, _ = await create_key(db, org["id"], name=DEMO_KEY_NAME, permissions="admin")
            return key
        finally:
            await db.close()

    return asyncio.run(run())


def has_active_keys(config: Any) -> bool:
    """Whether the configured database holds a usable key (sync; for ``serve``)."""
    url = str(config.database_url)
    if url.startswith("sqlite:"):
        path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else url[7:]
        if not path or path == ":memory:" or not os.path.exists(path):
            return False

    async def run() -> bool:
        db = await _with_db(config)
        try:
            return await db.count_active_keys() > 0
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except Exception as exc:
        log.warning("could not check the database for API keys: %s", exc)
        return False
