"""The code stays ruff-clean and the core stays mypy --strict clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_check() -> None:
    out = run("ruff", "check", "omni_proxy", "plugins", "tests", "bench", "examples")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_mypy_strict_on_the_core() -> None:
    out = run("mypy", "omni_proxy")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
