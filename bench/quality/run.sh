#!/bin/sh
# Rebuild the data, the shipped model and every table in bench/quality/README.md.
# Needs the public repos under /work/.mirror (or any checkout; set the paths below).
set -eu
Q=${QDATA:-/tmp/qdata}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mkdir -p "$Q/mmlupro" "$Q/routerbench" "$Q/llmrouter" "$Q/routellm" bench/quality/results
M=/work/.mirror
git -C "$M/TIGER-AI-Lab+MMLU-Pro/repo" ls-tree -r --long HEAD eval_results |
    awk '$4 != "BAD" {print $5}' | while read -r f; do
        git -C "$M/TIGER-AI-Lab+MMLU-Pro/repo" show "HEAD:$f" > "$Q/mmlupro/$(basename "$f")"; done
for f in arc_challenge mbpp winograde; do for s in train test; do
    git -C "$M/shuhao02+RouterDC/repo" show "HEAD:datasets/routerbench_zs/${f}_$s.csv" > "$Q/routerbench/${f}_$s.csv"
done; done
for s in train test; do
    git -C "$M/ulab-uiuc+LLMRouter/repo" show "HEAD:data/dcrouter_preprocessed/$s.json" > "$Q/llmrouter/$s.json"
    git -C "$M/openai+grade-school-math/repo" show "HEAD:grade_school_math/data/$s.jsonl" > "$Q/gsm8k_$s.jsonl"
done
git -C "$M/lm-sys+RouteLLM/repo" archive HEAD routellm/evals/mmlu routellm/evals/gsm8k | tar -x -C "$Q/routellm"
python bench/quality/build_data.py --routellm "$Q/routellm" --mmlupro "$Q/mmlupro" --routerbench "$Q/routerbench" \
    --llmrouter "$Q/llmrouter" --gsm8k "$Q/gsm8k_test.jsonl" "$Q/gsm8k_train.jsonl" --out "$Q/built"
# evaluation only; prompts whose question is also a training row's are left out
python bench/quality/routellm_eval.py "$Q/routellm" --out "$Q/built" \
    --exclude "$Q/built/llmrouter_rows.jsonl.gz" "$Q/built/mmlupro_rows.jsonl.gz"
python bench/quality/train_shipped.py "$Q/built/mmlupro_rows.jsonl.gz" "$Q/built/llmrouter_rows.jsonl.gz" \
    --out omni_proxy/quality/shipped.json.gz --l2 1e-4 --heldout-out "$Q/heldout" | tee bench/quality/results/train_shipped.txt
R=bench/quality/results
omni-proxy router eval --data "$Q/built/routellm_all.jsonl" --config bench/quality/pair.yaml > $R/a_shipped_routellm_pair.txt
omni-proxy router eval --data "$Q/built/routellm_gsm8k.jsonl" --config bench/quality/pair.yaml > $R/a_shipped_routellm_gsm8k.txt
omni-proxy router eval --data "$Q/built/routerbench_test.jsonl" --config bench/quality/pair.yaml > $R/a_shipped_routerbench_pair.txt
omni-proxy router eval --data "$Q/built/routerbench_test.jsonl" --config bench/quality/registry.yaml > $R/a_shipped_routerbench_8models.txt
for c in mixtral gemini llama; do
    omni-proxy router eval --data "$Q/heldout/mmlupro_heldout.jsonl" --config bench/quality/$c.yaml \
        --quality-model "$Q/heldout/heldout-model.json.gz" > $R/a_heldout_subjects_$c.txt
done
omni-proxy router train --data "$Q/built/routerbench_train.jsonl" --config bench/quality/registry.yaml \
    --out "$Q/rb-model.json.gz" > $R/b_train_routerbench.txt
omni-proxy router eval --data "$Q/built/routerbench_test.jsonl" --config bench/quality/pair.yaml \
    --quality-model "$Q/rb-model.json.gz" > $R/b_trained_routerbench_pair.txt
omni-proxy router eval --data "$Q/built/routerbench_test.jsonl" --config bench/quality/registry.yaml \
    --quality-model "$Q/rb-model.json.gz" > $R/b_trained_routerbench_8models.txt
python bench/quality/latency.py > $R/latency.txt
python bench/quality/latency.py --quality-model "$Q/rb-model.json.gz" >> $R/latency.txt
