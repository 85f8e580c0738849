"""Endpoints: one wire format each (parse, render, render a stream, render an error).

``Pipeline.handle`` drives every step between; a route is ``route(SomeEndpoint())``.
"""

from .base import Endpoint, Job, route

__all__ = ["Endpoint", "Job", "route"]
