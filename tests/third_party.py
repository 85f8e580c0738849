"""Heavy third-party Python tools (LiteLLM's SDK and proxy, the fakellm server), installed
once into a venv of their own rather than the test extra: LiteLLM's proxy pins its own
FastAPI/Starlette and would fight the proxy's dependencies.

The venv lives in ``$OMNI_THIRD_PARTY_VENV`` (default ``~/.cache/omni-proxy/third-party-<hash
of the requirements>``) and is reused while its requirements are unchanged; a half-made one
(no ``.complete`` marker) is made again. Without a working install the tests that need it
skip, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import IN_CI

#: Pinned: a release known to install and run offline here (LiteLLM had a compromised
#: release, 1.107.0, pulled from the registry; pins keep a new one out of CI unseen).
REQUIREMENTS = ["litellm[proxy]==1.106.12", "fakellm==0.3.5"]
INSTALL_TIMEOUT_S = 1200


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason + " — CI must have it")
    pytest.skip(reason)


def venv_dir() -> Path:
    env = os.environ.get("OMNI_THIRD_PARTY_VENV")
    if env:
        return Path(env)
    digest = hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "omni-proxy" / f"third-party-{digest}"


def third_party_venv() -> Path:
    """The venv (made and filled on first use); its ``bin`` holds ``python``, ``litellm``
    and ``fakellm``. Prints how long an install took (``-s`` shows it)."""
    folder = venv_dir()
    done = folder / ".complete"
    if done.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    started = time.monotonic()
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(folder)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        pip = subprocess.run(
            [
                str(folder / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *REQUIREMENTS,
            ],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        unavailable("installing LiteLLM and fakellm timed out")
    except subprocess.CalledProcessError as exc:
        unavailable(f"cannot make a venv: {exc.stderr!r}")
    if pip.returncode != 0:
        unavailable(f"pip install {' '.join(REQUIREMENTS)} failed: {pip.stderr[-1500:]}")
    done.write_text(f"{time.monotonic() - started:.0f} s\n")
    print(f"\nthird-party venv installed in {time.monotonic() - started:.0f} s at {folder}")
    return folder
