"""Public quality figures of known model families, matched by name.

Any registry can name a model as it likes (``gpt-4-1106-preview``,
``mistralai/Mixtral-8x7B-Instruct-v0.1``, ``anthropic.claude-3-opus-20240229-v1:0``), so
names are matched by pattern, most specific first. The figure is the family's MMLU-Pro
overall accuracy (a public, broad measure of answer quality): from the MMLU-Pro README
mini-leaderboard (TIGER-AI-Lab/MMLU-Pro, Apache-2.0) where listed, else from the vendor's
model card or report; entries marked ``~`` are approximate. See bench/quality/README.md.
"""

from __future__ import annotations

import re

__all__ = ["FAMILIES", "family_accuracy"]

_S = r"[-_. ]?"  # a separator that may or may not be there

#: (pattern, MMLU-Pro overall accuracy 0..1, source). First match wins.
FAMILIES: tuple[tuple[str, float, str], ...] = (
    # OpenAI reasoning models
    (rf"(^|[^a-z0-9])o1{_S}mini", 0.80, "~leaderboard"),
    (rf"(^|[^a-z0-9])o1({_S}preview)?($|[^a-z0-9])", 0.89, "~leaderboard"),
    (rf"(^|[^a-z0-9])o3{_S}mini", 0.79, "~leaderboard"),
    (rf"(^|[^a-z0-9])o4{_S}mini", 0.81, "~leaderboard"),
    (r"(^|[^a-z0-9])o3($|[^a-z0-9])", 0.85, "~leaderboard"),
    # OpenAI GPT
    (rf"gpt{_S}4\.1{_S}nano", 0.62, "~vendor"),
    (rf"gpt{_S}4\.1{_S}mini", 0.77, "~vendor"),
    (rf"gpt{_S}4\.1", 0.80, "~vendor"),
    (rf"gpt{_S}4\.5", 0.86, "~vendor"),
    (rf"gpt{_S}5{_S}nano", 0.70, "~vendor"),
    (rf"gpt{_S}5{_S}mini", 0.82, "~vendor"),
    (rf"gpt{_S}5($|[^0-9.])", 0.87, "~vendor"),
    (rf"gpt{_S}4o{_S}mini", 0.631, "leaderboard"),
    (rf"gpt{_S}4o", 0.7255, "MMLU-Pro README"),
    (rf"gpt{_S}4{_S}(turbo|1106|0125|vision)", 0.6371, "MMLU-Pro README (GPT-4-Turbo)"),
    (rf"gpt{_S}4($|{_S}(0613|0314|32k))", 0.60, "~leaderboard"),
    (rf"gpt{_S}3\.?5", 0.38, "~leaderboard"),
    # Anthropic
    (rf"claude{_S}(opus{_S}4|4{_S}opus|opus{_S}4)", 0.86, "~vendor"),
    (rf"claude{_S}(sonnet{_S}4|4{_S}sonnet)", 0.84, "~vendor"),
    (rf"claude{_S}(haiku{_S}4|4{_S}haiku)", 0.76, "~vendor"),
    (rf"claude{_S}3{_S}7", 0.80, "~leaderboard"),
    (rf"claude{_S}3{_S}5{_S}haiku", 0.62, "~leaderboard"),
    (rf"claude{_S}3{_S}5", 0.7612, "MMLU-Pro README (Claude-3.5-Sonnet)"),
    (rf"claude{_S}3{_S}opus", 0.6845, "MMLU-Pro README"),
    (rf"claude{_S}3{_S}sonnet", 0.568, "MMLU-Pro README"),
    (rf"claude{_S}3{_S}haiku", 0.42, "~leaderboard"),
    (rf"claude{_S}instant", 0.33, "~estimate"),
    (rf"claude{_S}2", 0.45, "~estimate"),
    # Google
    (rf"gemini{_S}(2\.5|3){_S}pro", 0.86, "~vendor"),
    (rf"gemini{_S}2\.5{_S}flash{_S}lite", 0.73, "~vendor"),
    (rf"gemini{_S}2\.5{_S}flash", 0.80, "~vendor"),
    (rf"gemini{_S}2\.0{_S}flash{_S}lite", 0.72, "~vendor"),
    (rf"gemini{_S}2\.0{_S}(flash|pro)", 0.776, "vendor"),
    (rf"gemini{_S}1\.5{_S}flash{_S}8b", 0.47, "~leaderboard"),
    (rf"gemini{_S}1\.5{_S}pro", 0.6903, "MMLU-Pro README"),
    (rf"gemini{_S}1\.5{_S}flash", 0.5912, "MMLU-Pro README"),
    (rf"gemini{_S}1\.0|gemini{_S}pro", 0.45, "~estimate"),
    (rf"gemma{_S}3{_S}27b", 0.675, "vendor"),
    (rf"gemma{_S}3{_S}12b", 0.606, "vendor"),
    (rf"gemma{_S}3", 0.45, "~vendor"),
    (rf"gemma{_S}2{_S}27b", 0.565, "~leaderboard"),
    (rf"gemma{_S}2{_S}9b", 0.52, "~leaderboard"),
    (r"gemma", 0.337, "~leaderboard"),
    # Meta
    (rf"llama{_S}3\.?1{_S}405b|llama{_S}3{_S}1{_S}405b", 0.733, "vendor"),
    (rf"llama{_S}3\.?[13]{_S}70b|llama{_S}3{_S}[13]{_S}70b", 0.664, "vendor (3.1; 3.3 is 0.689)"),
    (rf"llama{_S}3\.?1{_S}8b|llama{_S}3{_S}1{_S}8b", 0.483, "vendor"),
    (rf"llama{_S}3\.?2{_S}3b|llama{_S}3{_S}2{_S}3b", 0.35, "~vendor"),
    (rf"llama{_S}3\.?2{_S}1b|llama{_S}3{_S}2{_S}1b", 0.20, "~estimate"),
    (rf"llama{_S}4{_S}maverick", 0.805, "vendor"),
    (rf"llama{_S}4{_S}scout", 0.743, "vendor"),
    (rf"llama{_S}3{_S}70b", 0.562, "MMLU-Pro README (Llama-3-70B-Instruct)"),
    (rf"llama{_S}3{_S}8b", 0.41, "~leaderboard"),
    (rf"llama{_S}2{_S}70b", 0.31, "~estimate"),
    (rf"llama{_S}2{_S}13b", 0.22, "~estimate"),
    (rf"llama{_S}2", 0.19, "~estimate"),
    # Mistral
    (rf"mixtral{_S}8x22b", 0.56, "~leaderboard"),
    (rf"mixtral{_S}8x7b", 0.433, "~leaderboard"),
    (rf"mistral{_S}large", 0.70, "~leaderboard"),
    (rf"mistral{_S}medium", 0.65, "~estimate"),
    (rf"mistral{_S}small", 0.66, "~vendor (Small 3)"),
    (rf"mistral{_S}nemo|open{_S}mistral{_S}nemo", 0.44, "~leaderboard"),
    (rf"mistral{_S}7b|open{_S}mistral{_S}7b|mistral{_S}tiny", 0.309, "~leaderboard"),
    (r"codestral", 0.50, "~estimate"),
    # Qwen
    (rf"qwen{_S}2\.5{_S}72b|qwen{_S}max", 0.711, "vendor"),
    (rf"qwen{_S}2\.5{_S}32b", 0.69, "vendor"),
    (rf"qwen{_S}2\.5{_S}14b", 0.637, "vendor"),
    (rf"qwen{_S}2\.5{_S}7b", 0.563, "vendor"),
    (rf"qwen{_S}2\.5{_S}3b", 0.437, "vendor"),
    (rf"qwen{_S}2\.5{_S}(1\.5|0\.5)b", 0.32, "~vendor"),
    (rf"qwen{_S}1\.5{_S}(72|110)b", 0.5264, "MMLU-Pro README (Qwen1.5-72B-Chat)"),
    (rf"qwen{_S}1\.5{_S}7b", 0.29, "~leaderboard"),
    # DeepSeek
    (rf"deepseek{_S}(r1|reasoner)", 0.84, "vendor"),
    (rf"deepseek{_S}(v3|chat)", 0.759, "vendor"),
    (rf"deepseek{_S}coder{_S}v2|deepseek{_S}v2", 0.5481, "MMLU-Pro README (DeepSeek-V2-Chat)"),
    # Microsoft
    (rf"phi{_S}4", 0.704, "vendor"),
    (rf"phi{_S}3{_S}medium", 0.5348, "MMLU-Pro README"),
    (rf"phi{_S}3\.5{_S}mini", 0.474, "vendor"),
    (rf"phi{_S}3{_S}(mini|small)", 0.457, "~leaderboard"),
    # Others
    (rf"yi{_S}large", 0.5753, "MMLU-Pro README"),
    (rf"yi{_S}1\.5{_S}34b|yi{_S}34b", 0.5229, "MMLU-Pro README (Yi-1.5-34B-Chat)"),
    (rf"command{_S}r{_S}plus|command{_S}r\+", 0.43, "~leaderboard"),
    (rf"command{_S}r", 0.37, "~leaderboard"),
    (rf"jamba{_S}1\.5{_S}large", 0.53, "~leaderboard"),
)

_COMPILED = tuple((re.compile(p), acc) for p, acc, _ in FAMILIES)


def family_accuracy(name: str) -> float | None:
    """The MMLU-Pro accuracy of the family ``name`` belongs to, or None when unknown."""
    low = name.lower()
    for pattern, acc in _COMPILED:
        if pattern.search(low):
            return acc
    return None
