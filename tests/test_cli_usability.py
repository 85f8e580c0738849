"""The CLI as a newcomer meets it: clear refusals, hints, defaults in --help, and one log
format on stderr when not on a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

PROVIDER_VARS = (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY",
    "OPENROUTER_API_KEY", "MISTRAL_API_KEY",
)  # fmt: skip


def env(tmp: Path, **extra: str) -> dict[str, str]:
    out = {
        k: v for k, v in os.environ.items() if not k.startswith("OMNI_") and k not in PROVIDER_VARS
    }
    out["OMNI_DATABASE_URL"] = f"sqlite:///{tmp / 'cli.db'}"
    out.update(extra)
    return out


def cli(tmp: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omni_proxy.cli", *args],
        env=env(tmp, **extra),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keys_create_refuses_an_empty_org(tmp_path: Path) -> None:
    for org in ("", "   "):
        done = cli(tmp_path, "keys", "create", "--org", org)
        assert done.returncode == 2 and "organization name" in done.stderr
        assert "sk-omni-" not in done.stdout
    listed = cli(tmp_path, "keys", "list")
    assert listed.returncode == 0 and len(listed.stdout.strip().splitlines()) == 1  # header only


def test_models_with_nothing_configured_says_what_to_do(tmp_path: Path) -> None:
    done = cli(tmp_path, "models")
    assert done.returncode == 0
    assert "--demo" in done.stderr and "OPENAI_API_KEY" in done.stderr and "--config" in done.stderr
    demo = cli(tmp_path, "models", "--demo")
    assert "demo-mini" in demo.stdout and demo.stderr == ""


def test_serve_help_shows_defaults(tmp_path: Path) -> None:
    text = " ".join(cli(tmp_path, "serve", "--help").stdout.split())
    for default in ("(default: 127.0.0.1)", "(default: 8080)", "(default: 1)"):
        assert default in text


def test_logs_are_one_format_when_not_on_a_terminal(tmp_path: Path) -> None:
    """Every stderr line is JSON (uvicorn's too); the banner and key are plain stdout."""
    port = free_port()
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "omni_proxy.cli", "serve", "--demo", "--port", str(port)],
            env=env(tmp_path),
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)
        finally:
            proc.terminate()
            proc.wait(20)
    lines = [line for line in err.read_text().splitlines() if line.strip()]
    assert any("Uvicorn running" in line for line in lines), lines  # uvicorn's lines are here
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    assert "API key for this run: sk-omni-" in out.read_text()
