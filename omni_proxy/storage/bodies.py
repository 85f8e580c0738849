"""Body logging (``logging.bodies``): the prompt and the answer kept with a request.

Prompts are personal data, so nothing of them is stored unless ``logging.bodies`` is on; with
it off, even the prompt excerpt the router notes for ``router train --from-db``
(``prompt_text`` on the routing log and feedback rows) is dropped before the record is queued.

With it on, ``BodyLog`` sees the prompt through ``guard_request`` and the answer through
``guard_response`` (a stream's text as it passes, released at once, nothing held back) and
puts both on the request's record, which the recorder writes in its batches: the request path
never waits on the database. ``BodyRetention`` deletes stored bodies older than
``logging.bodies_retention_days`` once an hour, whether logging is on or not (bodies kept
before it was turned off still expire).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ..config import Config
from ..plugins import PluginManager, hookimpl
from ..types import RequestRecord

log = logging.getLogger("omni_proxy.bodies")

#: Each of prompt and answer is cut to this many characters (a request's body may be MBs).
MAX_CHARS = 100_000
#: Requests whose bodies wait for their record at most; the oldest are dropped past it (a
#: request always ends recorded, so this only bounds memory if something goes wrong).
MAX_PENDING = 10_000
#: Seconds between two sweeps for expired bodies.
SWEEP_S = 3600.0
_KEY = "omni_proxy.storage.bodies"


def _clip(text: str) -> str:
    text = text.replace("\x00", "\ufffd")  # PostgreSQL text holds no NUL
    if len(text) > MAX_CHARS:
        return text[:MAX_CHARS] + "\n…[cut]"
    return text


def prompt_of(body: Any) -> str | None:
    """What the client asked, as JSON text: the messages (chat, Anthropic), the Responses
    ``input`` (with ``instructions``), a legacy ``prompt`` or an embeddings ``input``."""
    if not isinstance(body, dict):
        return None
    if "messages" in body:
        value: Any = body["messages"]
    elif "input" in body:
        value = body["input"]
        if body.get("instructions"):
            value = (
                [
                    {"role": "system", "content": body["instructions"]},
                    {"role": "user", "content": value},
                ]
                if isinstance(value, str)
                else value
            )
    elif "prompt" in body:
        value = body["prompt"]
    else:
        return None
    if isinstance(value, str):
        return _clip(value)
    try:
        return _clip(orjson.dumps(value, default=str).decode())
    except TypeError:
        return None


def answer_of(response: Any) -> str | None:
    """The answer's text: a chat completion's message content and tool calls, or a Responses
    object's output text and function calls. Embedding vectors are not an answer to keep."""
    if not isinstance(response, dict):
        return None
    parts: list[str] = []
    for choice in response.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") or {}
        text = message.get("content") if isinstance(message, dict) else None
        if text is None:
            text = choice.get("text")  # legacy completions
        if isinstance(text, str) and text:
            parts.append(text)
        for call in (message.get("tool_calls") if isinstance(message, dict) else None) or ():
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                parts.append(f"[tool call] {fn.get('name')}({fn.get('arguments') or ''})")
    for item in response.get("output") or ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            parts.append(f"[tool call] {item.get('name')}({item.get('arguments') or ''})")
        for part in item.get("content") or ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
    return _clip("\n".join(parts)) if parts else None


class _Bodies:
    __slots__ = ("answer", "prompt")

    def __init__(self, prompt: str | None) -> None:
        self.prompt = prompt
        self.answer: list[str] = []

    def scan(self, text: str, final: bool) -> tuple[str, str]:
        """A ``StreamGuard`` that keeps a copy of the text and releases all of it at once."""
        if text and sum(map(len, self.answer)) < MAX_CHARS:
            self.answer.append(text)
        return text, ""


class BodyLog:
    """Keeps each request's prompt and answer and puts them on its record."""

    def __init__(self) -> None:
        self.pending: dict[str, _Bodies] = {}

    def _holder(self, context: Any) -> _Bodies | None:
        rid = getattr(context, "request_id", None)
        return self.pending.get(rid) if isinstance(rid, str) else None

    @hookimpl
    def guard_request(
        self, body: Any, principal: Any, config: Any, context: Any, operation: Any
    ) -> None:
        rid = getattr(context, "request_id", None)
        if not isinstance(rid, str):
            return
        held = self.pending.get(rid)
        if held is not None:  # a later prompt of the same request (legacy completions)
            more = prompt_of(body)
            if more and more != held.prompt:
                held.prompt = _clip(f"{held.prompt or ''}\n{more}")
            return
        self.pending[rid] = _Bodies(prompt_of(body))
        while len(self.pending) > MAX_PENDING:
            self.pending.pop(next(iter(self.pending)))

    @hookimpl
    def guard_response(
        self, response: Any, stream: Any, principal: Any, config: Any, context: Any, operation: Any
    ) -> Any:
        held = self._holder(context)
        if held is None:
            return None
        if stream:
            return held
        answer = answer_of(response)
        if answer:
            held.answer = [answer]
        return None

    @hookimpl(tryfirst=True)
    def record(self, event: RequestRecord) -> None:
        held = self.pending.pop(event.request_id, None)
        if held is None:
            return
        answer = _clip("".join(held.answer)) if held.answer else ""
        if held.prompt or answer:
            event.bodies = {"prompt": held.prompt or "", "answer": answer}


class PromptDrop:
    """Bodies off: the record keeps no prompt text (the router's excerpt included)."""

    @hookimpl(tryfirst=True)
    def record(self, event: RequestRecord) -> None:
        if event.prompt_text is not None:
            event.prompt_text = None


class BodyRetention:
    """Deletes stored bodies past ``logging.bodies_retention_days``, hourly."""

    def __init__(self, days: int) -> None:
        self.days = days
        self.task: asyncio.Task[None] | None = None

    async def sweep(self, db: Any) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=self.days)
        deleted: int = await db.delete_bodies_before(cutoff)
        if deleted:
            log.info("deleted %d stored request bodies older than %d days", deleted, self.days)
        return deleted

    async def _run(self, db: Any) -> None:
        while True:
            try:
                await self.sweep(db)
            except Exception as exc:  # the database may be down: try again next time
                log.warning("deleting expired request bodies failed: %s", exc)
            await asyncio.sleep(SWEEP_S)

    @hookimpl
    def startup(self, services: Any) -> None:
        db = services.db
        if db is not None and hasattr(db, "delete_bodies_before"):
            self.task = asyncio.get_running_loop().create_task(
                self._run(db), name="omni-body-retention"
            )

    @hookimpl
    def shutdown(self, app: Any) -> Awaitable[None] | None:
        task, self.task = self.task, None
        if task is None:
            return None
        task.cancel()
        return self._stopped(task)

    @staticmethod
    async def _stopped(task: asyncio.Task[None]) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def install(pm: PluginManager, config: Config) -> None:
    """Register body logging (or the prompt drop) and the retention sweep. Before the
    pipeline is built: its guard steps run only when a guard hook is registered."""
    for name in (_KEY, _KEY + ".drop", _KEY + ".retention"):
        if pm.has_plugin(name):
            pm.unregister(name=name)
    if config.logging.bodies:
        pm.register(BodyLog(), name=_KEY)
    else:
        pm.register(PromptDrop(), name=_KEY + ".drop")
    pm.register(BodyRetention(config.logging.bodies_retention_days), name=_KEY + ".retention")
