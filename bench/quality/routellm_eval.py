"""RouteLLM's reserved evaluation labels as `router eval` files (evaluation only, never training).

lm-sys/RouteLLM (Apache-2.0) ships, per prompt, whether gpt-4-1106-preview and
Mixtral-8x7B-Instruct-v0.1 answered right: ``routellm/evals/mmlu/responses/mmlu_*.csv`` (57
subjects) and ``routellm/evals/gsm8k/gsm8k_responses.csv``. Prompts RouteLLM itself marks as
contaminated (``contaminated_prompts.jsonl``) are dropped, as its own benchmark does. These
files grade the shipped model; nothing in ``train_shipped.py`` reads them. ``--exclude``
drops the prompts whose question (the text before the options) is also a training row's
(its whole text or first line): 269 LLMRouter rows hold MMLU questions that MMLU-Pro's
``ori_mmlu`` did not catch, so the shipped model saw those questions (with other models'
labels); the headline figures leave them out.

    python bench/quality/routellm_eval.py /path/to/RouteLLM --out /tmp/qdata/built \
        --exclude /tmp/qdata/built/llmrouter_rows.jsonl.gz /tmp/qdata/built/mmlupro_rows.jsonl.gz
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
from pathlib import Path

_WS = re.compile(r"[^a-z0-9]+")


def norm(text: str) -> str:
    """Lower-case alphanumerics only (as build_data.py compares)."""
    return _WS.sub(" ", text.lower()).strip()


def trained_texts(paths: list[Path]) -> set[str]:
    """Each training row's whole text and first line, normalised."""
    out: set[str] = set()
    for path in paths:
        with gzip.open(path, "rt") as f:
            for line in f:
                text = json.loads(line)["text"]
                out.add(norm(text))
                out.add(norm(text.split("\n")[0]))
    return out


PREMIUM = "gpt-4-1106-preview"
CHEAP = "mistralai/Mixtral-8x7B-Instruct-v0.1"


def _contaminated(path: Path) -> set[str]:
    out: set[str] = set()
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                out.add(str(row.get("eval_prompt", row) if isinstance(row, dict) else row))
    return out


def _flag(value: str) -> float | None:
    v = value.strip().lower()
    return 1.0 if v == "true" else 0.0 if v == "false" else None


def rows(root: Path, trained: set[str] | None = None) -> dict[str, list[dict]]:
    """{"mmlu": [...], "gsm8k": [...]} in the `router eval` format."""
    csv.field_size_limit(10**9)
    evals = root / "routellm" / "evals"
    out: dict[str, list[dict]] = {"mmlu": [], "gsm8k": []}
    files = [("mmlu", p) for p in sorted((evals / "mmlu" / "responses").glob("mmlu_*.csv"))]
    files.append(("gsm8k", evals / "gsm8k" / "gsm8k_responses.csv"))
    for bench, path in files:
        skip = _contaminated(evals / bench / "contaminated_prompts.jsonl")
        with open(path, newline="") as fh:
            for r in csv.DictReader(fh):
                prompt = r["prompt"]
                if prompt in skip:
                    continue
                if trained and norm(prompt.split("\nA.")[0]) in trained:
                    continue
                strong, weak = _flag(r[PREMIUM]), _flag(r[CHEAP])
                if strong is None or weak is None:
                    continue
                source = path.stem if bench == "mmlu" else "gsm8k"
                out[bench].append(
                    {
                        "messages": [{"role": "user", "content": prompt}],
                        "scores": {PREMIUM: strong, CHEAP: weak},
                        "source": source,
                    }
                )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("repo", type=Path, help="a checkout of lm-sys/RouteLLM")
    p.add_argument("--out", type=Path, default=Path("/tmp/qdata/built"))
    p.add_argument("--exclude", type=Path, nargs="*", default=[], help="training rows (*.jsonl.gz)")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    data = rows(a.repo, trained_texts(a.exclude))
    for name, items in [*data.items(), ("all", data["mmlu"] + data["gsm8k"])]:
        with open(a.out / f"routellm_{name}.jsonl", "w") as f:
            for row in items:
                f.write(json.dumps(row) + "\n")
        strong = sum(r["scores"][PREMIUM] for r in items)
        weak = sum(r["scores"][CHEAP] for r in items)
        print(
            f"routellm {name}: {len(items)} prompts; {PREMIUM} {strong / len(items):.3f}, "
            f"Mixtral {weak / len(items):.3f} (keeps {weak / strong:.1%})"
        )


if __name__ == "__main__":
    main()
