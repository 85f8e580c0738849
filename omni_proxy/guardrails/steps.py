"""The guard steps as the pipeline runs them: which requests they look at, and the hooks.

With guardrails off in the config, no org override on the caller and no plugin's own guard
hook, ``wanted`` is false and nothing else here runs.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..plugins import PluginManager, await_me_maybe
from ..types import CallContext
from .stream import StreamGuards

#: Where ``request_once`` notes the body it guarded, in ``CallContext.guard``.
_GUARDED = "omni_proxy.pipeline"


def plugin_guards(pm: PluginManager) -> bool:
    """Whether a plugin other than the built-in defaults implements a guard hook."""
    from ..defaults import DEFAULT_PLUGINS

    defaults = {id(module) for _, module in DEFAULT_PLUGINS}
    return any(
        id(impl.plugin) not in defaults
        for name in ("guard_request", "guard_response")
        for impl in getattr(pm.hook, name).get_hookimpls()
    )


class GuardSteps:
    """``guard_request`` before the text reaches a classifier or provider, and
    ``guard_response`` on the answer (a stream's content through ``StreamGuards``)."""

    def __init__(self, pm: PluginManager, config: Config, hook: Any) -> None:
        self.config = config
        self.hook = hook
        #: A plugin's guard hooks, or guardrails on in the config.
        self.on = plugin_guards(pm) or config.guardrails.active()

    def wanted(self, ctx: CallContext) -> bool:
        """Whether the request is guarded (an org's override rides on its principal)."""
        return self.on or (ctx.principal is not None and "guardrails" in ctx.principal.limits)

    async def request_once(self, body: dict[str, Any], ctx: CallContext, operation: str) -> None:
        """``request`` unless it already ran over this very body (routing guards it before
        the classifiers see it; the call then finds it done). A body whose ``messages`` were
        replaced since (legacy completions: one prompt a call) is guarded again."""
        done = ctx.guard.get(_GUARDED) if ctx.guard is not None else None
        if done is not None and done[0] is body and done[1] is body.get("messages"):
            return
        await self.request(body, ctx, operation)
        assert ctx.guard is not None
        ctx.guard[_GUARDED] = (body, body.get("messages"))

    async def request(self, body: dict[str, Any], ctx: CallContext, operation: str) -> None:
        """Every ``guard_request`` implementation, in order: they redact ``body`` in place or
        raise ``ProxyError`` to block (nothing reaches a provider then)."""
        if ctx.guard is None:
            ctx.guard = {}
        results = self.hook.guard_request(
            body=body, principal=ctx.principal, config=self.config, context=ctx, operation=operation
        )
        for result in results:
            await await_me_maybe(result)

    async def response(self, response: dict[str, Any], ctx: CallContext, operation: str) -> None:
        results = self.hook.guard_response(
            response=response,
            stream=False,
            principal=ctx.principal,
            config=self.config,
            context=ctx,
            operation=operation,
        )
        for result in results:
            await await_me_maybe(result)

    async def stream(self, ctx: CallContext) -> StreamGuards | None:
        """The stream guards the implementations return for this stream, if any."""
        results = self.hook.guard_response(
            response=None,
            stream=True,
            principal=ctx.principal,
            config=self.config,
            context=ctx,
            operation="chat",
        )
        guards = [g for g in [await await_me_maybe(r) for r in results] if g is not None]
        if not guards:
            return None
        return StreamGuards(guards, self.config.guardrails.stream_window_chars)
