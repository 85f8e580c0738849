"""Deployment files stay valid: the Containerfile lints clean, the example configs load."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from omni_proxy.app import provider_classes
from omni_proxy.config import load_config
from omni_proxy.plugins import get_plugin_manager
from omni_proxy.registry import build_registry
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent


def test_containerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        if IN_CI:
            pytest.fail("hadolint is not installed (it comes with the test extras)")
        pytest.skip("hadolint is not installed")
    out = subprocess.run([hadolint, str(ROOT / "Containerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_containerfile_runs_non_root_with_a_health_check() -> None:
    text = (ROOT / "Containerfile").read_text()
    assert text.count("FROM ") >= 2  # multi-stage
    assert "USER 10001" in text and "HEALTHCHECK" in text and "/health" in text


def test_every_documented_podman_build_keeps_the_health_check() -> None:
    """podman's default OCI format drops HEALTHCHECK; every documented build must say
    ``--format docker`` and the compose example must declare the check itself."""
    files = [ROOT / "Containerfile", ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    lines = [line for f in files for line in f.read_text().splitlines()]
    builds = [line for line in lines if re.match(r"[#\s]*podman build\b", line)]  # commands
    assert builds, "the Containerfile documents how to build it"
    for line in builds:
        assert "--format docker" in line, line
    compose = yaml.safe_load((ROOT / "examples" / "compose.yaml").read_text())
    check = compose["services"]["proxy"]["healthcheck"]
    assert "/health" in " ".join(check["test"])
    image_check = (ROOT / "Containerfile").read_text().split("HEALTHCHECK", 1)[1]
    assert check["test"][-1] in image_check  # the same command as the image's


def test_example_config_loads_and_builds_a_registry() -> None:
    config = load_config(ROOT / "examples" / "omni.yaml", env={"OPENAI_API_KEY": "sk-x"})
    registry = build_registry(config, provider_classes(get_plugin_manager()))
    assert registry.premium is not None and registry.premium.name == "gpt-4o"
    assert "llama3.2" in registry


def test_example_deployments_are_valid_yaml() -> None:
    compose = yaml.safe_load((ROOT / "examples" / "compose.yaml").read_text())
    env = compose["services"]["proxy"]["environment"]
    assert {"OMNI_DATABASE_URL", "OMNI_REDIS_URL", "OMNI_MASTER_KEY"} <= set(env)
    docs = list(yaml.safe_load_all((ROOT / "examples/kubernetes/omni-proxy.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert deployment["spec"]["replicas"] > 1
