"""``omni-proxy router train`` / ``router eval`` through the real command line."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from omni_proxy.config import load_config
from omni_proxy.quality import choose, load
from omni_proxy.quality.cli import _registry

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
providers:
  openai: {plugin: openai, api_key: unused}
models:
  - {name: big, provider: openai, model: gpt-4o, cost_input: 2.5, cost_output: 10}
  - {name: small, provider: openai, model: gpt-4o-mini, cost_input: 0.15, cost_output: 0.6}
routing:
  premium_model: big
"""

CITIES = ["France", "Spain", "Italy", "Japan", "Peru", "Chile", "Kenya", "Egypt", "Norway"]
TOPICS = [
    "a red-black tree",
    "the Cauchy integral theorem",
    "a Byzantine consensus protocol",
    "the Navier-Stokes energy inequality",
    "a lock-free queue",
    "Galois groups",
]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
    env["OMNI_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    return subprocess.run(
        [sys.executable, "-m", "omni_proxy.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def labelled(n: int, seed: int) -> list[dict[str, object]]:
    """Easy look-ups both models get right; proofs only the big one gets right."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n):
        if rng.random() < 0.5:
            text = f"What is the capital of {rng.choice(CITIES)}? Answer in one word. ({i})"
            scores = {"big": 1.0, "small": 1.0 if rng.random() < 0.97 else 0.0}
        else:
            text = (
                f"Prove rigorously the main invariant of {rng.choice(TOPICS)} and derive "
                f"its complexity bound step by step, case {i}."
            )
            scores = {
                "big": 1.0 if rng.random() < 0.9 else 0.0,
                "small": 1.0 if rng.random() < 0.2 else 0.0,
            }
        rows.append({"messages": [{"role": "user", "content": text}], "scores": scores})
    return rows


@pytest.fixture()
def setup(tmp_path: Path) -> Path:
    (tmp_path / "config.yaml").write_text(CONFIG)
    for name, n, seed in (("train.jsonl", 2000, 1), ("test.jsonl", 300, 2)):
        (tmp_path / name).write_text("\n".join(json.dumps(r) for r in labelled(n, seed)))
    return tmp_path


def test_train_then_decisions_change_and_eval_reports(setup: Path) -> None:
    cfg = str(setup / "config.yaml")
    out = setup / "model.json.gz"
    proc = cli(
        setup,
        "router",
        "train",
        "--data",
        str(setup / "train.jsonl"),
        "--out",
        str(out),
        "--config",
        cfg,
    )
    assert proc.returncode == 0, proc.stderr
    assert "items: 2000" in proc.stdout and "held-out fit" in proc.stdout
    assert "big" in proc.stdout and "small" in proc.stdout
    assert "100%" in proc.stderr  # the progress bar
    assert out.exists()

    config = load_config(cfg)
    registry = _registry(config)
    models = list(registry)
    costs = {m.name: float(m.cost_input + m.cost_output) for m in models}
    shipped, trained = load(), load(str(out))
    assert trained.source.startswith("trained")
    hard = "Prove rigorously the main invariant of a lock-free queue and derive its bound."
    before = choose(shipped.estimate(hard, "chat", models, registry.premium), costs, 0.9)
    after = choose(trained.estimate(hard, "chat", models, registry.premium), costs, 0.9)
    assert (before, after) == ("small", "big")  # it learned that proofs need the big model
    easy = "What is the capital of Chile? Answer in one word."
    assert choose(trained.estimate(easy, "chat", models, registry.premium), costs, 0.9) == "small"

    proc = cli(
        setup,
        "router",
        "eval",
        "--data",
        str(setup / "test.jsonl"),
        "--config",
        cfg,
        "--quality-model",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert "APGR" in proc.stdout and "random (same share)" in proc.stdout
    assert "0.98" in proc.stdout

    proc = cli(
        setup,
        "router",
        "eval",
        "--data",
        str(setup / "test.jsonl"),
        "--config",
        cfg,
        "--quality-model",
        str(out),
        "--json",
    )
    result = json.loads(proc.stdout)
    assert result["items"] == 300
    floor = next(p for p in result["floors"] if p["floor"] == 0.9)
    assert floor["savings"] > 0.2 and floor["quality"] >= 0.95
    assert floor["quality"] > floor["random_quality"]
    assert result["apgr"] > result["apgr_random"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "not JSON"),
        ('{"scores": {"big": 1}}', "'messages' must be"),
        (
            '{"messages": [{"role": "user", "content": "hi"}], "scores": {"big": "yes"}}',
            "not a number",
        ),
        (
            '{"messages": [{"role": "user", "content": "hi"}], "scores": {"big": 1.5}}',
            "between 0 and 1",
        ),
        (
            '{"messages": [{"role": "user", "content": "hi"}], "scores": {"gpt-9": 1}}',
            "'gpt-9' is not in the registry",
        ),
    ],
)
def test_bad_training_files_name_the_line(setup: Path, line: str, reason: str) -> None:
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}], "scores": {"big": 1}})
    path = setup / "bad.jsonl"
    path.write_text(f"{good}\n{good}\n{line}\n")
    proc = cli(
        setup,
        "router",
        "train",
        "--data",
        str(path),
        "--out",
        str(setup / "m.gz"),
        "--config",
        str(setup / "config.yaml"),
    )
    assert proc.returncode == 2
    assert "bad.jsonl:3: " in proc.stderr and reason in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (setup / "m.gz").exists()


def test_from_db_without_outcomes_is_a_clear_error(setup: Path) -> None:
    proc = cli(
        setup,
        "router",
        "train",
        "--from-db",
        "--out",
        str(setup / "m.gz"),
        "--config",
        str(setup / "config.yaml"),
    )
    assert proc.returncode == 2
    assert "omni-proxy router:" in proc.stderr and "Traceback" not in proc.stderr


def test_train_from_db_reads_one_orgs_recorded_outcomes(setup: Path) -> None:
    import sqlite3

    assert cli(setup, "migrate", "--config", str(setup / "config.yaml")).returncode == 0
    conn = sqlite3.connect(setup / "cli.db")
    conn.execute("INSERT INTO orgs (id, name) VALUES ('o1', 'acme'), ('o2', 'other')")
    rows = []
    for i, r in enumerate(labelled(400, 3)):
        text = r["messages"][0]["content"]  # type: ignore[index]
        for model, score in r["scores"].items():  # type: ignore[attr-defined]
            source = "feedback" if model == "big" else "cascade"
            rows.append(
                (
                    f"req-{i}",
                    "o1",
                    model,
                    "chat",
                    text,
                    score,
                    source,
                    f"2026-12-01T00:{i % 60:02d}:00",
                )
            )
    rows.append(
        ("req-x", "o2", "gpt-9", "chat", "someone else's", 1.0, "feedback", "2026-12-01T00:00:00")
    )
    # The table is the one the migrations made (sql/*/0006_quality.sql), as /v1/feedback fills it.
    conn.executemany(
        "INSERT INTO feedback (request_id, org_id, model, task_type, prompt_text, score, source,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    conn.close()
    out = setup / "db-model.json.gz"
    proc = cli(
        setup,
        "router",
        "train",
        "--from-db",
        "--org",
        "acme",
        "--out",
        str(out),
        "--config",
        str(setup / "config.yaml"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "items: 400" in proc.stdout
    assert load(str(out)).heads.keys() == {"big", "small"}
    proc = cli(
        setup,
        "router",
        "train",
        "--from-db",
        "--org",
        "nobody",
        "--out",
        str(out),
        "--config",
        str(setup / "config.yaml"),
    )
    assert proc.returncode == 2 and "no recorded outcomes" in proc.stderr
