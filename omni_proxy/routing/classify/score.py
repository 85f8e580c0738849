"""Scoring text: lexical cues, cues assembled from several tokens, word problems."""

from __future__ import annotations

import re

from .cues import (
    ADVICE,
    ALL,
    CJK_GEN_VERBS,
    CJK_NUMERALS,
    CJK_QMATH,
    COMPARATIVE,
    DESC,
    DET,
    DRAW_VERB,
    FASSE,
    IMG_NOUN,
    IMG_VERB,
    INTO,
    INTO_WEAK,
    KEYADJ,
    LANG,
    LANG_ADJ,
    LANG_NOUN,
    ME,
    MEAN_Q,
    NUMWORD,
    OWNER,
    POINTS,
    PROCESS,
    PROG_LANG,
    PRONOUN,
    QMATH,
    QWHAT,
    RENDER_VERB,
    SAYLIKE,
    SOFT_NOUN,
    SOFT_VERB,
    SUMMAR,
    THAN,
    THREAD,
    TR_VERB,
    UNIT,
    WANT,
    WHAT,
    WITH,
    CueFn,
)
from .lexicon import CJK_RE, CJK_TABLE, LEX, STEMS, TASKS, tokenize
from .params import SHORT_PROBLEM


class Scores:
    """Scores per task and the signals behind them, for one classification."""

    __slots__ = ("score", "signals")

    def __init__(self) -> None:
        self.score: dict[str, float] = dict.fromkeys(TASKS, 0.0)
        self.signals: dict[str, list[str]] = {}

    def add(self, task: str, weight: float, signal: str) -> None:
        self.score[task] += weight
        if weight > 0:
            self.signals.setdefault(task, []).append(signal)

    def best(self) -> tuple[str, float, float]:
        """The best non-chat task, its score and the runner-up's score."""
        task, best, second = "chat", float("-inf"), float("-inf")
        for t, s in self.score.items():
            if t == "chat":
                continue
            if s > best:
                task, best, second = t, s, best
            elif s > second:
                second = s
        return task, best, second


# Numbers in a question that asks for advice or a favour are not a word problem.
_ADVICE_WORDS = frozenset(
    [
        "should",
        "shall",
        "recommend",
        "recommendation",
        "tips",
        "advice",
        "better",
        "worth",
        "decide",
        "choose",
        "pick",
        "prefer",
    ]
)
_SAY_CALL = frozenset(["say", "call", "write"])
_PLEASE = (["please"], ["pls"], ["por"], ["bitte"], ["s"], ["per"])
_ERROR_SUFFIXES = ("error", "exception")
_NOT_ERRORS = frozenset({"terror", "error", "errors", "exception", "exceptions"})
# An opening quote (not an apostrophe): 'What does "X" mean' asks for a translation.
_OPEN_QUOTE = re.compile(r"(?:^|[\s(:\u2014-])['\"\u2018\u201c\u00ab\u201e\u300c]\S")
# 'What's "on my way" in Portuguese?': a quoted phrase, then the language it should be in.
_QUOTED_IN = re.compile(r"['\"\u2019\u201d\u00bb\u300d]\s*(?:in|into|to|en|auf|em)\s+([^\W\d_]+)")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
# Arithmetic between numbers; every branch starts with a digit, which keeps the scan fast.
_MATH_EXPR = re.compile(
    r"\d\s*[\u00d7\u00f7*/^]\s*\(?\d"
    r"|\d\s+[-+\u2212]\s+\d"
    r"|\d+!"
    r"|\d\s*%\s*(?:of|de|von|di|do|da)\s+\d"
)
# An equation: only tried when the text has an "=".
_EQUATION = re.compile(r"[-+\u2212=]\s*\d+\s*=\s*-?\d|[a-z]\s*=\s*-?\d")
_MATH_SYMBOLS = ("\u221a", "\u222b", "\u2211", "\u03c0", "\u2264", "\u2265", "\u00b2")
_MATH_NOTATION = ("f(x)", "sin(", "cos(", "tan(", "ln(", "log(", "sqrt(", "^2", "^3", "lim ")


def score_region(text: str, weight: float, acc: Scores, prefix: str, *, ask: bool) -> None:
    """Add the lexical cues of one piece of text, scaled by ``weight``."""
    low = text.lower()
    tokens = tokenize(low)
    seen: set[str] = set()
    marks: dict[int, int] = {}

    def cue(task: str, w: float, signal: str) -> None:
        if signal not in seen:
            seen.add(signal)
            acc.add(task, w * weight, prefix + signal)

    # Only known tokens and long ones (stems, error names) need the loop's body; the rest,
    # most of a prose text, are dropped by one comprehension.
    lex = LEX
    for i in [i for i, tok in enumerate(tokens) if tok in lex or len(tok) > 5]:
        tok = tokens[i]
        e = lex.get(tok)
        if e is None:
            stems = STEMS.get(tok[:5])
            if stems is not None:
                for stem, cues, flags in stems:
                    if tok.startswith(stem):
                        for task, w, signal in cues:
                            cue(task, w, signal)
                        if flags:
                            marks[i] = marks.get(i, 0) | flags
            elif tok.endswith(_ERROR_SUFFIXES) and tok not in _NOT_ERRORS:
                cue("coding", 2.5, "error_name")
            continue
        for task, w, signal in e.cues:
            cue(task, w, signal)
        if e.flags:
            marks[i] = e.flags
        for rest, cues, flags in e.phrases:
            if tokens[i + 1 : i + 1 + len(rest)] == list(rest):
                for task, w, signal in cues:
                    cue(task, w, signal)
                if flags:
                    marks[i] = marks.get(i, 0) | flags
    if marks:
        _combine(tokens, marks, cue)
    cjk = not low.isascii() and CJK_RE.search(low) is not None
    if cjk:
        for task, w, signal, words in CJK_TABLE:
            for word in words:
                if word in low:
                    cue(task, w, signal)
                    break
        if "kw:image_noun_cjk" in seen and any(v in low for v in CJK_GEN_VERBS):
            cue("image", 2.5, "gen_image_cjk")
    if ask:
        _score_numbers(text, low, tokens, marks, cue, cjk)
        if (
            _OPEN_QUOTE.search(text)
            and _asks_meaning(tokens, marks)
            and not any(t in ("error", "exception", "warning") for t in tokens)
        ):
            cue("translation", 3.0, "what_does_x_mean")
        if len(text) < 300 and _prompt_shaped(text, tokens, marks):
            cue("image", 1.0, "prompt_shape")
        if "in_lang" in seen or "to_lang" in seen:
            for m in _QUOTED_IN.finditer(low):
                e = LEX.get(m.group(1))
                if e is not None and e.flags & LANG:
                    cue("translation", 2.5, "quoted_in_lang")
                    break


def _prompt_shaped(text: str, tokens: list[str], marks: dict[int, int]) -> bool:
    """An image-generation prompt: a comma-separated description, no question, no "I/you"."""
    if "?" in text or text.count(",") < 2:
        return False
    if any(t in ("i", "you", "me", "my", "we", "your", "can", "please") for t in tokens):
        return False
    return any(f & (IMG_NOUN | DESC) for f in marks.values())


def _asks_meaning(tokens: list[str], marks: dict[int, int]) -> bool:
    """'What does "X" mean' / 'que veut dire "X"': the meaning of a quoted phrase."""
    if any(f & MEAN_Q for f in marks.values()):
        return True
    for i, tok in enumerate(tokens[:-1]):
        if tok == "what" and tokens[i + 1] in ("does", "do", "did", "is"):
            return any(t in ("mean", "means", "stand") for t in tokens[i + 2 : i + 14])
    return False


def _combine(tokens: list[str], marks: dict[int, int], cue: CueFn) -> None:
    """Cues made of several tokens with gaps: translate ... into French, draw me a ..."""
    n = len(tokens)
    get = marks.get

    def lang_at(j: int) -> bool:
        """A language name at j, or after one adjective ("into formal Spanish")."""
        f = get(j, 0)
        return bool(f & LANG) or (bool(f & LANG_ADJ) and bool(get(j + 1, 0) & LANG))

    def to_lang_within(i: int, span: int) -> bool:
        return any(get(j, 0) & (INTO | INTO_WEAK) and lang_at(j + 1) for j in range(i, i + span))

    comparatives = all_are = 0
    threads = processes = False
    for i, f in sorted(marks.items()):
        if f & (INTO | INTO_WEAK) and lang_at(i + 1):
            if f & INTO:
                cue("translation", 1.5, "to_lang")
            else:
                cue("translation", 0.75, "in_lang")
        if f & TR_VERB:
            nxt = tokens[i + 1] if i + 1 < n else ""
            if nxt in ("into", "to") and not (lang_at(i + 2) or get(i + 2, 0) & PRONOUN):
                cue("translation", -4.0, "not:translate_metaphor")
            elif to_lang_within(i + 1, 13):
                cue("translation", 2.0, "translate_to_lang")
            elif any(get(j, 0) & LANG for j in range(i + 1, i + 4)):
                cue("translation", 1.0, "translate_lang")
        if f & LANG:
            if get(i + 1, 0) & LANG_NOUN:
                cue("translation", 3.0, "lang_version")
            if get(i + 1, 0) & INTO and lang_at(i + 2):
                cue("translation", 3.0, "lang_pair")
            nxt = tokens[i + 1] if i + 1 < n else ""
            before = tokens[max(0, i - 2) : i]
            if nxt == "for" and before[-1:] in (["the"], ["right"], ["correct"], ["proper"]):
                cue("translation", 3.0, "lang_for")  # "the Spanish for 'bottle opener'"
            elif nxt in _SAY_CALL and ("do" in before or "does" in before or "would" in before):
                cue("translation", 2.5, "lang_say")  # "what do Italians call ..."
        if i == 0 and f & (INTO | INTO_WEAK) and lang_at(1) and tokens[2:3] in _PLEASE:
            cue("translation", 2.0, "lang_first")  # "In English please: ..."
        if f & RENDER_VERB and get(i + 1, 0) & PRONOUN and to_lang_within(i + 2, 7):
            cue("translation", 3.0, "render_in_lang")
        if f & SAYLIKE and get(i + 1, 0) & (INTO | INTO_WEAK) and lang_at(i + 2):
            cue("translation", 2.0, "say_in_lang")
        if (
            f & IMG_VERB
            and any(get(j, 0) & (IMG_NOUN | DESC) for j in range(i + 1, i + 9))
            and not _advice_before(marks, i)
        ):
            cue("image", 3.0, "gen_image")
        if f & FASSE and "zusammen" in tokens[i + 1 : i + 12]:
            cue("summarization", 3.0, "kw:fasse_zusammen")
        if (
            f & WHAT
            and tokens[i + 1 : i + 2] in (["is"], ["s"])
            and tokens[i + 2 : i + 3] in (["this"], ["the"], ["it"])
            and "about" in tokens[i + 3 : i + 7]
        ):
            cue("summarization", 1.5, "what_is_it_about")
        if (
            f & SOFT_NOUN
            and (get(i - 1, 0) | get(i - 2, 0)) & OWNER
            and any(get(j, 0) & SOFT_VERB for j in range(i + 1, i + 7))
        ):
            cue("coding", 1.5, "software_behaviour")  # "my page reloads when I press ..."
        if f & PROG_LANG and get(i - 1, 0) & WITH:
            cue("coding", 1.0, "in_prog_lang")
        if f & KEYADJ and not _advice_before(marks, i):
            for j in (i - 2, i - 1, i + 1, i + 2):
                if get(j, 0) & POINTS and tokens[j + 1 : j + 2] != ["to"]:
                    cue("summarization", 1.5, "key_points")
                    break
        if f & WANT and get(i + 1, 0) & DET and any(get(j, 0) & IMG_NOUN for j in (i + 2, i + 3)):
            cue("image", 2.5, "want_image")
        if f & DRAW_VERB and not _advice_before(marks, i):
            j = i + 2 if get(i + 1, 0) & ME else i + 1
            if get(j, 0) & DET:
                cue("image", 3.0, "draw_request")
        if f & DESC:
            cue("image", 1.0, "prompt_style:" + tokens[i])
        if f & SUMMAR and _advice_before(marks, i):
            cue("summarization", -3.5, "not:advice_about_summary")
        if f & UNIT and i > 0 and (get(i - 1, 0) & (NUMWORD | DET) or tokens[i - 1].isdigit()):
            cue("summarization", 1.25, "length_limit")
            if tokens[i - 3 : i - 1] == ["down", "to"]:  # "boil/cut/get it down to a line"
                cue("summarization", 1.5, "down_to_length")
        if f & COMPARATIVE and get(i + 1, 0) & THAN:
            comparatives += 1
        if f & ALL and tokens[i + 2 : i + 3] in (["are"], ["is"]):
            all_are += 1
        threads = threads or bool(f & THREAD)
        processes = processes or bool(f & PROCESS)
    if comparatives >= 2:
        cue("reasoning", 2.0, "ordering_puzzle")
    if all_are >= 2:
        cue("reasoning", 1.5, "syllogism")
    if threads and processes:
        cue("coding", 1.2, "threads_and_processes")


def _advice_before(marks: dict[int, int], i: int) -> bool:
    """'how do I draw', 'tips for summarizing': asking how to do it, not asking for it."""
    return any(marks.get(j, 0) & ADVICE for j in range(max(0, i - 6), i))


def _score_numbers(
    text: str, low: str, tokens: list[str], marks: dict[int, int], cue: CueFn, cjk: bool
) -> None:
    """Word problems: several quantities and a question about a quantity."""
    numbers = len(_DIGITS.findall(text))
    qmath = qwhat = False
    for f in marks.values():
        if f & NUMWORD:
            numbers += 1
        qmath = qmath or bool(f & QMATH)
        qwhat = qwhat or bool(f & QWHAT)
    if cjk:
        qmath = qmath or any(w in low for w in CJK_QMATH)
        numbers += sum(1 for ch in low if ch in CJK_NUMERALS)
    question = "?" in text or "\uff1f" in text
    if numbers >= 2 and (qmath or (question and qwhat)):
        cue("reasoning", 1.5, "word_problem")
    elif numbers >= 3 and question and not any(t in _ADVICE_WORDS for t in tokens):
        # Several quantities and a question, in a short message: a word problem told
        # without the word "calculate" (or in a language the lexicon does not know).
        cue("reasoning", 1.5 if len(text) < SHORT_PROBLEM else 1.0, "numbers_question")
    elif question and (qmath or numbers):
        # A hint too weak to decide on, but one that lowers the confidence in "chat" (so the
        # confidence gate can ask a better classifier about "how many squares ...?").
        cue("reasoning", 0.75 if qmath else 0.5, "quantity_hint")
    if "%" in text:
        cue("reasoning", 0.5, "percent")
    if text.count("$") + text.count("\u20ac") + text.count("\u00a3") >= 2 and numbers >= 2:
        cue("reasoning", 0.5, "money_amounts")
    if numbers and (
        _MATH_EXPR.search(low)
        or ("=" in low and _EQUATION.search(low))
        or any(sym in low for sym in _MATH_SYMBOLS)
    ):
        cue("reasoning", 2.0, "math_expr")
    if any(s in low for s in _MATH_NOTATION):
        cue("reasoning", 1.5, "math_notation")
