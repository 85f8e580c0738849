"""Kept for imports written before ``omni_proxy.wire``: the chat relay and SSE helpers."""

from .wire.relay import ChunkRelay
from .wire.sse import DONE, error_event, frame, named_event, relay_events

__all__ = ["DONE", "ChunkRelay", "error_event", "frame", "named_event", "relay_events"]
