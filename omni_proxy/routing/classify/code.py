"""Recognising code from its shape (fences, traces, syntax, identifiers) with cheap counts."""

from __future__ import annotations

from .score import Scores

# Substrings counted by code_evidence: operators, calls, keywords, regex syntax.
_EQ_OPS = ("==", "!=", "=>", "+=")
_OPS = ("&&", "||", "::", "->")
_CALLS = ("print(", "function(", "() ", "();", "()\n", "():", ") {", "self.")
_KEYWORDS = (
    "def ",
    "return ",
    "import ",
    "this.",
    "console.",
    "#include",
    "</",
    "/>",
    "SELECT ",
    " FROM ",
    "const ",
    "var ",
    "JOIN ",
    "WHERE ",
    "GROUP BY",
    "ORDER BY",
    "INSERT INTO",
)
# File names with a source extension, for _code_tokens.
_SOURCE_EXTS = (
    ".py",
    ".js",
    ".ts",
    ".tsx",
    ".jsx",
    ".json",
    ".yaml",
    ".yml",
    ".toml",
    ".sh",
    ".java",
    ".cpp",
    ".rs",
    ".rb",
    ".php",
    ".sql",
    ".ipynb",
)
_TOKEN_EDGES = "`'\"()[]{}<>,;:!?*"
#: Identifiers are looked for in this many first characters of a text.
CODE_TOKEN_CHARS = 1500
_REGEX_BITS = ("(?", "\\d", "\\w", "[a-z", ".*")


def _has_word(text: str, word: str) -> bool:
    """``word`` standing alone (case-sensitive); a find loop, as a regex with \\b is slow."""
    i = text.find(word)
    n = len(word)
    while i >= 0:
        before = text[i - 1] if i else " "
        after = text[i + n : i + n + 1] or " "
        if not before.isalnum() and not after.isalnum():
            return True
        i = text.find(word, i + n)
    return False


def code_evidence(text: str, acc: Scores, weight: float, prefix: str) -> float:
    """Code recognised from its shape (fences, stack traces, syntax), with ``str.count``."""
    score = 0.0
    if "```" in text:
        score += 4.0
        acc.add("coding", 4.0 * weight, prefix + "code_fence")
    if "Traceback (most recent call last)" in text or '.py", line ' in text:
        score += 4.0
        acc.add("coding", 4.0 * weight, prefix + "stack_trace")
    elif ".java:" in text or "\tat " in text or ".js:" in text:
        score += 2.0
        acc.add("coding", 2.0 * weight, prefix + "stack_frame")
    c = text.count
    syntax = 0.0
    if "=" in text:
        syntax += 0.8 * sum(map(c, _EQ_OPS)) + 1.2 * c("===")
    syntax += 0.8 * (sum(map(c, _OPS)) - c("-->"))
    if "(" in text:
        syntax += 0.8 * sum(map(c, _CALLS))
    syntax += 0.8 * sum(map(c, _KEYWORDS))
    if "{" in text:
        braces = c("{") + c("}")
        syntax += (0.3 * braces if braces >= 2 else 0.0) + 0.8 * (c("{\n") + c("}\n"))
    if ";" in text:  # where code puts semicolons, not where prose does
        syntax += 0.6 * (c(";\n") + c(");") + c("};"))
    if "\\" in text or "[a-z" in text or "(?" in text:
        regex = sum(map(c, _REGEX_BITS))
        syntax += 1.0 * regex if regex >= 2 else 0.0
    if c("`") >= 2:
        syntax += 1.5
    if _has_word(text, "Go"):
        acc.add("coding", 0.6 * weight, prefix + "kw:Go")
    if "c++" in text or "C++" in text or "C#" in text:
        acc.add("coding", 1.5 * weight, prefix + "kw:c++/c#")
    shaped = _code_tokens(text)
    if shaped:
        syntax += min(1.6, 0.8 * shaped)
    if syntax >= 1.0:
        syntax = min(syntax, 4.0)
        score += syntax
        acc.add("coding", syntax * weight, prefix + "code_syntax")
    return score


def _code_tokens(text: str) -> int:
    """Distinct identifiers written as code writes them and prose does not: camelCase,
    snake_case, a method call, a file name with a source extension, a command-line flag.

    A loop over whitespace-split words: a regex for the same costs ~0.7 ms per 2 KB here.
    """
    found: set[str] = set()
    # Plain lower-case or capitalised words, most of any prose, can be none of these.
    words = text[:CODE_TOKEN_CHARS].split()
    for raw in [w for w in words if not (w.isalpha() and (w.islower() or w.istitle()))]:
        if len(raw) < 4 or not raw.isascii():
            continue
        tok = raw.strip(_TOKEN_EDGES)
        if len(tok) < 4:
            continue
        if tok.startswith("--"):
            if tok[2:3].isalpha():
                found.add(tok)
        elif "." in tok:
            if tok.endswith(_SOURCE_EXTS) or ("(" in raw and tok[0].isalpha()):
                found.add(tok)
        elif not tok.isalnum():
            if "_" in tok[1:-1] and tok[0].isalpha() and tok.replace("_", "").isalnum():
                found.add(tok)  # snake_case
        elif tok[0].islower() and not tok.islower():
            found.add(tok)  # camelCase
    return len(found)
