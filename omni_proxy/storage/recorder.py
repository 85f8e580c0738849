"""The recorder: a bounded queue drained in batches, so the request path never waits on I/O.

* ``put`` appends to an in-memory queue and returns; one background task writes batches.
* While the database is down, batches stay queued and are retried with a growing pause.
* Once the queue passes ``max_queue``, further records are appended to a spill file (JSON
  lines; ``OMNI_SPILL_PATH``, default next to the SQLite file or in the temp dir) rather
  than dropped, and replayed once the database answers again. On shutdown, whatever cannot
  be written in time is spilled too, and replayed by the next start.
* Writes are idempotent by request id (``ON CONFLICT DO NOTHING``), so a batch that is
  retried or replayed after a partial failure never makes duplicates: exactly once. The
  usage rollups count only the rows actually inserted, in the same transaction (triggers;
  on SQLite the recorder's batches grouped), so they count each request once too.
* A batch refused for its data rather than an outage (a NUL on PostgreSQL, a count beyond
  INTEGER on SQLite) never blocks the queue: it is split until the bad row stands alone,
  the good rows are written, and the bad one is written sanitised (``storable``) or, if
  even that fails, appended with its reason to the dead-letter file (``<spill>.dead``)
  and counted in ``omni_recorder_quarantined_total``. Spill replays go the same way, so a
  poison record is never replayed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import hashlib
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from ..server.metrics import RECORDER_BATCH, RECORDER_QUARANTINED, RECORDER_SPILLED
from ..types import RequestRecord
from . import Database
from .storable import error_kind, sanitize

log = logging.getLogger("omni_proxy.recorder")

_MONEY_FIELDS = ("cost", "premium_cost", "savings")
_FIELDS = {f.name for f in dataclasses.fields(RequestRecord)}


def default_spill_path(db: Database) -> Path:
    """``$OMNI_SPILL_PATH``, else ``<sqlite file>.spill.jsonl``, else one per database in tmp."""
    env = os.environ.get("OMNI_SPILL_PATH")
    if env:
        return Path(env)
    path = getattr(db, "path", None)
    if isinstance(path, str) and path and path != ":memory:":
        return Path(path + ".spill.jsonl")
    ident = str(getattr(db, "url", None) or getattr(db, "path", None) or "db")
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"omni-proxy-spill-{digest}.jsonl"


def dump_record(record: RequestRecord) -> bytes:
    return orjson.dumps(dataclasses.asdict(record), default=str) + b"\n"


def load_record(line: bytes) -> RequestRecord:
    data: dict[str, Any] = orjson.loads(line)
    data = {k: v for k, v in data.items() if k in _FIELDS}
    for name in _MONEY_FIELDS:
        data[name] = Decimal(str(data.get(name) or 0))
    return RequestRecord(**data)


class SpillFile:
    """Append-only JSON lines shared safely by several processes (``flock`` + inode check)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.replaying = path.with_name(path.name + ".replaying")

    def append(self, records: list[RequestRecord]) -> None:
        if not records:
            return
        payload = b"".join(dump_record(r) for r in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:  # not renamed away for replay while we waited for the lock
                    os.write(fd, payload)
                    return
            finally:
                os.close(fd)

    def dead_letter(self, record: RequestRecord, reason: str) -> None:
        """Keep a record no database would take, with why, for a human to look at."""
        line = orjson.dumps(
            {"reason": reason, "record": dataclasses.asdict(record)},
            default=str,
            option=orjson.OPT_NON_STR_KEYS,
        )
        path = self.path.with_name(self.path.name + ".dead")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line + b"\n")
        finally:
            os.close(fd)

    def pending(self) -> bool:
        return self.path.exists() or self.replaying.exists()

    def take(self) -> Path | None:
        """Move the spill file aside for replay (or resume an interrupted replay)."""
        if self.replaying.exists():
            return self.replaying
        if not self.path.exists():
            return None
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.replace(self.path, self.replaying)
        finally:
            os.close(fd)
        # Writers that opened the old file before the rename finish under the lock.
        fd = os.open(self.replaying, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            os.close(fd)
        return self.replaying

    @staticmethod
    def read(path: Path, batch_size: int) -> Iterator[list[RequestRecord]]:
        batch: list[RequestRecord] = []
        with path.open("rb") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    batch.append(load_record(line))
                except (ValueError, TypeError) as exc:
                    log.error("recorder: skipping a corrupt spill line (%s)", exc)
                    continue
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch


class Recorder:
    def __init__(
        self,
        db: Database,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        max_queue: int = 100_000,
        spill_path: str | os.PathLike[str] | None = None,
        max_retry_interval_s: float = 5.0,
        stuck_after_s: float = 60.0,
    ) -> None:
        self.db = db
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_queue = max_queue
        self.max_retry_interval_s = max_retry_interval_s
        #: ``/ready`` reports recording stuck once the oldest queued record is this old.
        self.stuck_after_s = stuck_after_s
        self.spill = SpillFile(Path(spill_path) if spill_path else default_spill_path(db))
        self._queue: deque[RequestRecord] = deque()
        self._queued_at: deque[float] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._retry_delay = 0.0
        self.written = 0
        self.failures = 0
        self.spilled = 0
        self.replayed = 0
        self.quarantined = 0
        self.dead_lettered = 0
        self.healthy = True

    # -- metrics ----------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def lag_s(self) -> float:
        """Age of the oldest record still waiting in memory."""
        return time.monotonic() - self._queued_at[0] if self._queued_at else 0.0

    @property
    def stuck(self) -> bool:
        """Records have waited longer than ``stuck_after_s``: usage and budgets are frozen."""
        return self.lag_s > self.stuck_after_s

    # -- the request path -------------------------------------------------------------------
    def put(self, record: RequestRecord) -> None:
        """Queue a record; never blocks on the database and never raises."""
        if len(self._queue) >= self.max_queue:
            try:
                self.spill.append([record])
                self.spilled += 1
                RECORDER_SPILLED.inc()
            except OSError:
                log.exception("recorder: cannot spill to %s; keeping in memory", self.spill.path)
            else:
                return
        self._queue.append(record)
        self._queued_at.append(time.monotonic())
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def holds(self, request_id: str) -> bool:
        """Whether a request's record is still waiting to be written (a feedback that
        arrives right after its answer waits for it rather than answering 404)."""
        return any(r.request_id == request_id for r in self._queue)

    def wake(self) -> None:
        """Write the queue now rather than at the next interval."""
        self._wake.set()

    # -- the writer -------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="omni-recorder")

    async def _run(self) -> None:
        while not self._stopping:
            wait = self._retry_delay or self.flush_interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            if self._stopping:
                break
            ok = await self.flush()
            if ok and self.spill.pending():
                ok = await self.replay()
            if ok:
                self._retry_delay = 0.0
            else:
                self._retry_delay = min(self.max_retry_interval_s, max(0.25, self._retry_delay * 2))

    async def _write(self, batch: list[RequestRecord]) -> int:
        """Write ``batch``; return how many of its leading records are done with (written,
        or quarantined when their data is at fault). Fewer than all means an outage."""
        started = time.perf_counter()
        try:
            await self.db.write_records(batch)
            RECORDER_BATCH.observe(time.perf_counter() - started)
        except Exception as exc:
            if not await self._is_data_error(exc):
                self._outage(exc)
                return 0
            if len(batch) == 1:
                return await self._quarantine(batch[0], exc)
            # Halve until the bad row stands alone: log2(batch) extra writes per bad row.
            mid = len(batch) // 2
            done = await self._write(batch[:mid])
            if done < mid:
                return done
            return mid + await self._write(batch[mid:])
        self._back()
        return len(batch)

    async def _is_data_error(self, exc: BaseException) -> bool:
        kind = error_kind(exc)
        if kind != "unknown":
            return kind == "data"
        ping = getattr(self.db, "ping", None)
        if ping is None:
            return False
        try:  # the database answers, so it was this batch it refused
            await asyncio.wait_for(ping(), 2.0)
        except Exception:
            return False
        return True

    def _outage(self, exc: BaseException) -> None:
        self.failures += 1
        if self.healthy:
            log.warning("recorder: database write failed (%s); holding records", exc)
        self.healthy = False

    def _back(self) -> None:
        if not self.healthy:
            log.warning("recorder: database is back")
        self.healthy = True

    async def _quarantine(self, record: RequestRecord, exc: BaseException) -> int:
        """One record the database refused: write it sanitised, else dead-letter it."""
        reason = f"{type(exc).__name__}: {str(exc)[:300]}"
        try:
            clean = sanitize(record)
        except Exception as sanitize_exc:  # a record too odd even to clean
            clean, reason = None, f"{reason}; sanitising failed: {sanitize_exc!r}"
        if clean is not None:
            try:
                await self.db.write_records([clean])
            except Exception as again:
                if not await self._is_data_error(again):
                    self._outage(again)
                    return 0
                reason = f"{reason}; sanitised: {type(again).__name__}: {str(again)[:300]}"
            else:
                self._back()
                self.quarantined += 1
                RECORDER_QUARANTINED.labels("sanitized").inc()
                log.warning(
                    "recorder: request %s refused as it was (%s); written sanitised",
                    clean.request_id,
                    reason,
                )
                return 1
        try:
            await asyncio.to_thread(self.spill.dead_letter, record, reason)
        except OSError:
            log.exception("recorder: cannot dead-letter request %s", record.request_id)
        self.dead_lettered += 1
        RECORDER_QUARANTINED.labels("dead_letter").inc()
        log.error(
            "recorder: request %s cannot be stored (%s); dead-lettered", record.request_id, reason
        )
        return 1

    async def flush(self) -> bool:
        """Write everything queued; False if the database refused (records stay queued)."""
        while self._queue:
            batch = [self._queue[i] for i in range(min(self.batch_size, len(self._queue)))]
            done = await self._write(batch)
            for _ in range(done):
                self._queue.popleft()
                self._queued_at.popleft()
            self.written += done
            if done < len(batch):
                return False
        return True

    async def replay(self) -> bool:
        """Write the spill file's records; False (file kept) if the database refused."""
        path = await asyncio.to_thread(self.spill.take)
        if path is None:
            return True
        count = 0
        for batch in SpillFile.read(path, self.batch_size):
            if await self._write(batch) < len(batch):
                # Keep the file: the next replay starts over, and ON CONFLICT skips what
                # was written already.
                return False
            count += len(batch)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.replayed += count
        self.written += count
        log.info("recorder: replayed %d spilled records from %s", count, path)
        return True

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the loop and flush what is left, retrying until ``timeout_s``; spill the rest."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await self.flush() and loop.time() < deadline:
            await asyncio.sleep(0.2)
        if self._queue:
            records = list(self._queue)
            try:
                await asyncio.to_thread(self.spill.append, records)
            except OSError:
                log.exception("recorder: %d records could not be written or spilled", len(records))
                return
            self.spilled += len(records)
            RECORDER_SPILLED.inc(len(records))
            self._queue.clear()
            self._queued_at.clear()
            log.error(
                "recorder: database unavailable at shutdown; %d records spilled to %s "
                "(replayed on the next start)",
                len(records),
                self.spill.path,
            )
        elif self.spill.pending():
            await self.replay()
