"""Where ``/openapi.json`` used to be written by hand: now generated in ``wire.openapi``."""

from typing import Any

from .wire.openapi import OPERATIONS, document, openapi_endpoint, registered, schemas


def __getattr__(name: str) -> Any:
    if name == "SCHEMAS":  # built on first use
        return schemas()
    raise AttributeError(name)


__all__ = ["OPERATIONS", "document", "openapi_endpoint", "registered", "schemas"]
