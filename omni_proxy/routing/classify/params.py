"""The classifier's tunable numbers: how much is read, how the ask and pasted material weigh."""

from __future__ import annotations

CLASSIFIER_NAME = "heuristic"

#: Characters kept from the start and the end of a message before anything else is done.
HEAD_CHARS = 3000
TAIL_CHARS = 1500
#: A message longer than this is read as "ask + pasted text": its first and last short
#: paragraphs (up to ``ASK_CHARS``) count fully, a sample of the rest at ``BODY_WEIGHT``.
LONG_TEXT = 800
ASK_CHARS = 300
EDGE_CHARS = 600
BODY_CHARS = 900
BODY_WEIGHT = 0.35
SYSTEM_WEIGHT = 0.5
SYSTEM_CHARS = 1500
PREV_USER_WEIGHT = 0.6
PREV_ASSISTANT_WEIGHT = 0.3
FOLLOW_UP_CHARS = 300
#: Content parts and messages looked at, from each end.
MAX_PARTS = 32
MAX_MESSAGES = 64
#: The score a non-chat type needs before it beats the chat default.
THRESHOLD = 1.5
#: A medium message (up to ``LONG_TEXT``) split into paragraphs reads its short first or last
#: paragraph as the ask and the rest as material at this weight: pasted vocabulary must not
#: outvote the ask ("<an abstract full of maths words> Give me the gist of this").
MATERIAL_WEIGHT = 0.35
#: The most the material of a medium message adds to one task: less than ``THRESHOLD``.
MATERIAL_CAP = 1.0
MEDIUM_TEXT = 100
#: Several numbers and a question in fewer characters than this read as a word problem.
SHORT_PROBLEM = 400
