"""Enables omni-proxy's test fixtures where omni-proxy does not register them itself."""

from importlib.metadata import entry_points

if not any(ep.value == "omni_proxy.testing" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["omni_proxy.testing"]
