"""What the quality model reads of a prompt: word n-grams of its ends, length, task type.

Training (``bench/quality/train_shipped.py``, ``router train``) and estimating use this one
function, so the features can never drift apart. The text is capped (head and tail) so the
cost stays flat for long prompts: the ask is usually at the start or the end.
"""

from __future__ import annotations

import math
import re
from itertools import pairwise

HEAD = 400
TAIL = 800
_TOKEN = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
#: A multiple-choice option line ("A. ...", "(b) ..."): how many choices changes how hard.
_OPTION = re.compile(r"(?m)^[ \t]*\(?[A-Ja-j][.):][ \t]")

__all__ = ["features"]


def features(text: str, task_type: str) -> list[str]:
    """The prompt's feature names (each with value 1/sqrt(count) in the linear model)."""
    size = len(text)
    if size > HEAD + TAIL:
        text = text[:HEAD] + "\n" + text[-TAIL:]
    tokens = _TOKEN.findall(_DIGIT.sub("0", text.lower()))
    out = set(tokens)
    out.update([f"{a} {b}" for a, b in pairwise(tokens)])
    out.add(f"task={task_type}")
    out.add(f"len={min(int(math.log2(size + 1)), 16)}")
    numbers = sum(1 for t in tokens if "0" in t)
    out.add(f"nums={min(int(math.log2(numbers + 1)), 6)}")
    options = len(_OPTION.findall(text))
    if options >= 2:
        out.add(f"opts={min(options, 12)}")
    return list(out)
