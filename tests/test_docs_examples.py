"""The README and docs mean what they say: every YAML block loads with the project's own
config loader, and every curl example runs against ``serve --demo``."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from omni_proxy.config import Config, load_config
from tests.conftest import ProxyProcess

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
ENV = {
    var: "sk-test"
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY")
}


def blocks(lang: str) -> Iterator[tuple[str, str]]:
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            if m.group(1) == lang:
                line = text[: m.start()].count("\n") + 1
                yield f"{doc.name}:{line}", m.group(2)


YAML_BLOCKS = list(blocks("yaml"))


def test_the_docs_have_yaml_examples() -> None:
    assert any(where.startswith("README.md") for where, _ in YAML_BLOCKS)


@pytest.mark.parametrize(("where", "block"), YAML_BLOCKS, ids=[w for w, _ in YAML_BLOCKS])
def test_yaml_block_loads_with_the_config_loader(where: str, block: str, tmp_path: Path) -> None:
    parsed = yaml.safe_load(block)
    assert isinstance(parsed, dict), where
    if not set(parsed) <= set(Config.model_fields):
        pytest.skip(f"{where} is not an omni-proxy config")  # e.g. a compose file
    path = tmp_path / "omni.yaml"
    path.write_text(block, encoding="utf-8")
    config = load_config(path, env=ENV)
    assert set(config.providers) == set(parsed.get("providers") or {})
    assert [m.name for m in config.models] == [m["name"] for m in parsed.get("models") or []]


def curl_commands() -> list[tuple[str, str]]:
    """Each curl command of the README's bash blocks, continuation lines joined."""
    out = []
    for where, block in blocks("bash"):
        joined = re.sub(r"\\\n\s*", " ", block)
        logical: list[str] = []
        for line in joined.splitlines():
            if logical and logical[-1].count("'") % 2:  # inside a quoted -d '...'
                logical[-1] += " " + line.strip()
            else:
                logical.append(line)
        out += [(where, cmd.strip()) for cmd in logical if cmd.strip().startswith("curl ")]
    return out


CURLS = curl_commands()


def test_the_readme_has_curl_examples() -> None:
    assert len(CURLS) >= 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyProcess, str]]:
    tmp = tmp_path_factory.mktemp("curl")
    with ProxyProcess(tmp, args=["--demo"], master_key=None) as proxy:
        found = re.search(r"API key for this run: (\S+)", proxy.read_log())
        assert found, proxy.read_log()
        yield proxy, found.group(1)


@pytest.mark.parametrize(("where", "command"), CURLS, ids=[w for w, _ in CURLS])
def test_curl_example_runs_against_the_demo(
    where: str, command: str, demo: tuple[ProxyProcess, str]
) -> None:
    proxy, key = demo
    if re.search(r"/v1/(api-keys|organizations)\b", command):
        # Admin examples name ids (KEY_ID, ORG_ID) and another org: tests/test_key_controls.py
        # and tests/test_admin.py run them with real ids and the master key.
        pytest.skip(f"{where}: an admin example with placeholder ids")
    for host in ("127.0.0.1:8080", "localhost:8080"):
        command = command.replace(host, f"127.0.0.1:{proxy.port}")
    argv = shlex.split(command)
    done = subprocess.run(
        ["bash", "-c", command],
        env={"OMNI_KEY": key, "OMNI_MASTER_KEY": key, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, (where, done.stderr)
    out = done.stdout
    if '"stream": true' in " ".join(argv):
        events = [line[6:] for line in out.split(b"\n") if line.startswith(b"data: ")]
        assert events[-1] == b"[DONE]"
        last = orjson.loads(events[-2])
        assert last["usage"]["total_tokens"] > 0 and last["omni"]["provider"] == "demo"
    else:
        body = orjson.loads(out)
        assert isinstance(body, dict) and "error" not in body, body
