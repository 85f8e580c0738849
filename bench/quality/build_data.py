"""Build the quality-model data sets from public per-prompt correctness labels.

Outputs (to --out, default /tmp/qdata/built; raw data is not committed):
- ``mmlupro_rows.jsonl.gz``: one MMLU-Pro question a line with every model's right/wrong
  (TIGER-AI-Lab/MMLU-Pro ``eval_results/*.zip``, Apache-2.0). Rows whose ``src`` starts
  with ``ori_mmlu`` are dropped: they are MMLU items, reserved for evaluation.
- ``routerbench_{train,test}.jsonl``: RouterBench ARC-Challenge, MBPP and Winogrande
  (shuhao02/RouterDC ``datasets/routerbench_zs``) in the ``router train`` format, scores per
  model. Used only to evaluate and to demonstrate ``router train``; never in shipped weights.

Every row is checked against the reserved evaluation prompts (GSM8K test from
openai/grade-school-math, MIT): a normalised-text match drops it. The counts are printed.

    python bench/quality/build_data.py --mmlupro /tmp/qdata/mmlupro \
        --routerbench /tmp/qdata/routerbench --gsm8k /tmp/qdata/gsm8k_test.jsonl
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import zipfile
from pathlib import Path

LETTERS = "ABCDEFGHIJ"
_WS = re.compile(r"[^a-z0-9]+")

#: RouterBench column -> the registry name used in bench/quality/registry.yaml.
ROUTERBENCH_MODELS = {
    "gpt-4-1106-preview": "gpt-4-1106-preview",
    "gpt-3.5-turbo-1106": "gpt-3.5-turbo-1106",
    "claude-v2": "claude-2",
    "claude-instant-v1": "claude-instant-1",
    "meta/llama-2-70b-chat": "meta-llama/Llama-2-70b-chat-hf",
    "mistralai/mixtral-8x7b-chat": "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "mistralai/mistral-7b-chat": "mistralai/Mistral-7B-Instruct-v0.2",
    "zero-one-ai/Yi-34B-Chat": "01-ai/Yi-34B-Chat",
}


def norm(text: str) -> str:
    """Lower-case alphanumerics only: what a duplicate check compares."""
    return _WS.sub(" ", text.lower()).strip()


def reserved_prompts(gsm8k: list[Path], mmlupro: Path | None) -> set[str]:
    """GSM8K questions and the MMLU items MMLU-Pro took over (its ori_mmlu rows)."""
    out: set[str] = set()
    for path in gsm8k:
        for line in path.read_text().splitlines():
            if line.strip():
                out.add(norm(json.loads(line)["question"]))
    if mmlupro:
        for zpath in sorted(mmlupro.glob("*Llama-3_1-8B-Instruct*.zip")):
            with zipfile.ZipFile(zpath) as z:
                for r in json.loads(z.read(z.namelist()[0])):
                    if isinstance(r, dict) and str(r.get("src", "")).startswith("ori_mmlu"):
                        out.add(norm(r["question"]))
    return out


def _hits(text: str, reserved: set[str]) -> bool:
    n = norm(text)
    return n in reserved or any(len(r) > 60 and r in n for r in _long(reserved))


_LONG: list[str] = []


def _long(reserved: set[str]) -> list[str]:
    if not _LONG:
        _LONG.extend(sorted(reserved))
    return _LONG


def mmlupro_text(row: dict) -> str:
    opts = row["options"]
    if isinstance(opts, str):
        import ast

        opts = ast.literal_eval(opts)
    lines = [row["question"].strip(), "", "Options:"]
    lines += [f"{LETTERS[i]}. {o}" for i, o in enumerate(opts)]
    return "\n".join(lines)


def build_mmlupro(folder: Path, reserved: set[str], out: Path) -> None:
    rows: dict[str, dict] = {}
    dropped_ori = dropped_reserved = 0
    for zpath in sorted(folder.glob("*.zip")):
        model = zpath.name.removeprefix("model_outputs_").split("_5shots")[0]
        with zipfile.ZipFile(zpath) as z:
            data = json.loads(z.read(z.namelist()[0]))
        if isinstance(data, dict):  # a few files group the rows by subject
            data = [r for rows_ in data.values() for r in rows_]
        for r in data:
            if not isinstance(r, dict):  # a stray category name in one file
                continue
            if str(r.get("src", "")).startswith("ori_mmlu"):
                dropped_ori += 1
                continue
            qid = str(r["question_id"])
            row = rows.get(qid)
            if row is None:
                text = mmlupro_text(r)
                if reserved and norm(r["question"]) in reserved:
                    dropped_reserved += 1
                    continue
                row = rows[qid] = {
                    "id": qid,
                    "text": text,
                    "category": r["category"],
                    "src": r["src"],
                    "correct": {},
                }
            row["correct"][model] = int(r.get("pred") == r["answer"])
    with gzip.open(out / "mmlupro_rows.jsonl.gz", "wt") as f:
        for row in rows.values():
            f.write(json.dumps(row) + "\n")
    print(
        f"mmlu-pro: {len(rows)} questions kept; dropped {dropped_ori} ori_mmlu model rows, "
        f"{dropped_reserved} questions matching reserved prompts"
    )


def _score(value: str) -> float | None:
    try:
        v = float(value)
    except ValueError:
        return None
    return v if 0.0 <= v <= 1.0 else None


def build_routerbench(folder: Path, reserved: set[str], out: Path) -> None:
    csv.field_size_limit(10**9)
    seen_test: set[str] = set()
    for split in ("test", "train"):
        kept = dropped = 0
        with open(out / f"routerbench_{split}.jsonl", "w") as f:
            for name in ("arc_challenge", "mbpp", "winograde"):
                path = folder / f"{name}_{split}.csv"
                with open(path, newline="") as fh:
                    reader = list(csv.DictReader(fh))
                for r in reader:
                    prompt = r["prompt"]
                    if prompt.startswith("['") or prompt.startswith('["'):
                        import ast

                        prompt = "\n".join(ast.literal_eval(prompt))
                    key = norm(prompt)
                    if _hits(prompt, reserved) or (split == "train" and key in seen_test):
                        dropped += 1
                        continue
                    if split == "test":
                        seen_test.add(key)
                    scores = {
                        reg: s
                        for col, reg in ROUTERBENCH_MODELS.items()
                        if (s := _score(r[col])) is not None
                    }
                    if "gpt-4-1106-preview" not in scores or len(scores) < 2:
                        dropped += 1
                        continue
                    row = {
                        "messages": [{"role": "user", "content": prompt}],
                        "scores": scores,
                        "source": r["eval_name"],
                    }
                    f.write(json.dumps(row) + "\n")
                    kept += 1
        print(f"routerbench {split}: {kept} rows kept, {dropped} dropped (reserved/dup/unlabelled)")


def build_llmrouter(path: Path, reserved: set[str], rb_folder: Path | None, out: Path) -> None:
    """LLMRouter's DC-Router data (MIT): no source labels, so GSM8K and MMLU items are found
    by text, and anything also in the RouterBench evaluation prompts is dropped."""
    rb_text = ""
    if rb_folder:
        csv.field_size_limit(10**9)
        parts = []
        for f in sorted(rb_folder.glob("*.csv")):
            with open(f, newline="") as fh:
                parts += [norm(r["prompt"]) for r in csv.DictReader(fh)]
        rb_text = "\n".join(parts)
    kept = dropped_reserved = dropped_rb = 0
    with gzip.open(out / "llmrouter_rows.jsonl.gz", "wt") as f:
        for split in ("train", "test"):
            with open(path / f"{split}.json") as fh:
                data = json.load(fh)
            for i, r in enumerate(data):
                q = r["question"]
                n = norm(q)
                # Whole text or any line: LLMRouter appends an instruction line to GSM8K
                # questions ("...\nAfter careful thought, put you final answer in \\boxed"),
                # which a whole-text match missed (250 GSM8K test questions until session 5).
                if n in reserved or any(norm(line) in reserved for line in q.split("\n")):
                    dropped_reserved += 1
                    continue
                if rb_text and len(n) > 30 and n in rb_text:
                    dropped_rb += 1
                    continue
                row = {
                    "id": f"llmrouter-{split}-{i}",
                    "text": q,
                    "category": f"llmrouter-{r.get('cluster_id')}",
                    "src": "llmrouter",
                    "correct": {m: float(v) for m, v in r["scores"].items()},
                }
                f.write(json.dumps(row) + "\n")
                kept += 1
    print(
        f"llmrouter: {kept} kept; dropped {dropped_reserved} matching reserved prompts "
        f"(GSM8K/MMLU), {dropped_rb} also in RouterBench"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mmlupro", type=Path, help="folder of MMLU-Pro eval_results/*.zip")
    p.add_argument("--routerbench", type=Path, help="folder of RouterDC routerbench_zs CSVs")
    p.add_argument("--gsm8k", type=Path, nargs="*", default=[], help="GSM8K *.jsonl (reserved)")
    p.add_argument("--llmrouter", type=Path, help="LLMRouter data/dcrouter_preprocessed folder")
    p.add_argument(
        "--routellm", type=Path, help="lm-sys/RouteLLM checkout: its MMLU/GSM8K eval questions"
    )
    p.add_argument("--out", type=Path, default=Path("/tmp/qdata/built"))
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    reserved = reserved_prompts(a.gsm8k, a.mmlupro)
    if a.routellm:  # every MMLU test question RouteLLM grades with, not only MMLU-Pro's
        import routellm_eval

        for items in routellm_eval.rows(a.routellm).values():
            for r in items:
                reserved.add(norm(r["messages"][0]["content"].split("\nA.")[0]))
    print(f"reserved prompts: {len(reserved)}")
    if a.mmlupro:
        build_mmlupro(a.mmlupro, reserved, a.out)
    if a.routerbench:
        build_routerbench(a.routerbench, reserved, a.out)
    if a.llmrouter:
        build_llmrouter(a.llmrouter, reserved, a.routerbench, a.out)


if __name__ == "__main__":
    main()
