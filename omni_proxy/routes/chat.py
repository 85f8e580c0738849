"""Chat routes: ``/v1/chat/completions`` (OpenAI wire format), the simple ``/v1/chat``,
``/v1/agent-step`` and ``/v1/router/debug`` (omni_proxy/endpoints/chat.py)."""

from __future__ import annotations

from ..endpoints import route
from ..endpoints.chat import AgentStep, ChatCompletions, RouterDebug, SimpleChat

chat_completions = route(ChatCompletions())
simple_chat = route(SimpleChat())
agent_step = route(AgentStep())
router_debug = route(RouterDebug())
