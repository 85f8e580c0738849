"""Finding personal data and credentials in text, cheaply enough for every request.

Each detector sits behind a prefilter that costs a substring test, a C-speed count or a regex
whose every alternative starts with a literal (which the regex engine skips to in its fast
loop): ``"@" in text`` before looking for e-mail addresses, four digits before the number
patterns, a credential format's mark (``k-``, ``_``, ``AKIA``, ``BEGIN``, ...) before the
credential patterns. So a prompt with nothing to find costs microseconds. Candidates are
then checked the way the format defines them:
Luhn for cards, mod-97 for IBANs, the SSA's rules for US social security numbers,
``ipaddress`` for IP addresses and Google's libphonenumber metadata (``phonenumbers``) for
phone numbers.

Credentials are matched by their published formats (provider key prefixes, PEM armour,
bearer tokens, JWTs). ``detect-secrets`` was considered: it scans files line by line through
process-wide plugin settings, reports no character offsets to mask, and its entropy plugins
flag ordinary prose, at a cost of hundreds of microseconds a line.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import phonenumbers

PII_KINDS = ("EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP")
SECRET_KINDS = ("API_KEY", "PRIVATE_KEY", "TOKEN")


@dataclass(slots=True, frozen=True)
class Finding:
    kind: str
    start: int
    end: int

    @property
    def secret(self) -> bool:
        return self.kind in SECRET_KINDS


# -- credentials ----------------------------------------------------------------------------
# Every alternative starts with a literal character, mostly rare ones, so the regex engine
# skips through text in its fast first-character loop (a character class or a look-behind
# at the start would make it try the whole pattern at every position).
_SECRET_HINT = re.compile(r"k[-_]|_|AKIA|ASIA|AIza|xox|BEGIN|Bearer |bearer |yJ")
_SECRETS = re.compile(
    r"(?P<PRIVATE_KEY>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"
    r"[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z))"
    r"|(?P<API_KEY>(?<![\w-])(?:"
    r"sk-[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic (sk-ant-), omni-proxy (sk-omni-), ...
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r")(?![\w-]))"
    r"|(?P<TOKEN>(?<=[Bb]earer )[A-Za-z0-9._~+/-]{16,}=*"
    r"|(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
)

# -- personal data --------------------------------------------------------------------------
# An address is found from its "@": the domain by a regex anchored there, the local part
# by walking back over the characters it may hold.
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
# Runs of digits with the separators people write numbers with. No look-behind: it would
# cost the regex engine its first-character skip; the edges are checked in Python instead.
_NUMBER = re.compile(r"[0-9+(][0-9 \-.()/]{5,22}[0-9]")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?")
_IPV4 = re.compile(r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}")
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_SSN = re.compile(r"(\d{3})-(\d{2})-(\d{4})")


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """ISO 13616: country letters and check digits moved to the end, letters as 10..35,
    the whole number mod 97 is 1."""
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """The SSA never issues area 000, 666 or 900-999, group 00 or serial 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _number_kind(text: str, region: str) -> str | None:
    ssn = _SSN.fullmatch(text)
    if ssn is not None:
        return "SSN" if ssn_ok(*ssn.groups()) else None
    digits = "".join(c for c in text if c.isdigit())
    if 13 <= len(digits) <= 19 and "." not in text and "/" not in text and luhn(digits):
        return "CARD"
    if not 7 <= len(digits) <= 15:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return "PHONE" if phonenumbers.is_valid_number(number) else None


def _secret_hint(text: str) -> bool:
    """Whether a credential may be present: one of its formats' marks."""
    return _SECRET_HINT.search(text) is not None


_NOT_DIGITS = bytes(b for b in range(256) if not 48 <= b <= 57)


def _digits(text: str) -> int:
    """How many ASCII digits ``text`` holds (a C-speed count, no regex)."""
    return len(text.encode("utf-8", "surrogatepass").translate(None, _NOT_DIGITS))


def find_secrets(text: str) -> list[Finding]:
    if not _secret_hint(text):
        return []
    found = []
    for m in _SECRETS.finditer(text):
        kind = m.lastgroup
        assert kind is not None
        found.append(Finding(kind, m.start(), m.end()))
    return found


def find_pii(text: str, region: str = "US") -> list[Finding]:
    found: list[Finding] = []
    if "@" in text:
        found.extend(_emails(text))
    if _digits(text) >= 4:  # the shortest: an IPv4 address, 1.2.3.4
        numbers = list(_NUMBER.finditer(text))
        if numbers:
            found.extend(_numbers(text, numbers, region))
    if ":" in text and _IPV6_HINT.search(text) is not None:
        found.extend(
            Finding("IP", m.start(), m.end())
            for m in _IPV6.finditer(text)
            if m.group().count(":") >= 2 and _ip(m.group())
        )
    return found


def _emails(text: str) -> list[Finding]:
    found = []
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _LOCAL:
            start -= 1
        while start < at and text[start] in "._%+-":
            start += 1
        domain = _DOMAIN.match(text, at + 1)
        if start < at and domain is not None:
            found.append(Finding("EMAIL", start, domain.end()))
            at = text.find("@", domain.end())
        else:
            at = text.find("@", at + 1)
    return found


_WORDISH = frozenset("._+-")


def _edges_ok(text: str, start: int, end: int) -> bool:
    """Not part of a longer word or number (what a look-behind would have said)."""
    if start and (text[start - 1].isalnum() or text[start - 1] in _WORDISH):
        return False
    return end == len(text) or not (text[end].isalnum() or text[end] == "_")


def _numbers(text: str, numbers: list[re.Match[str]], region: str) -> list[Finding]:
    """IBANs (only worth looking for where a long number is), IPv4 addresses, then SSNs,
    cards and phone numbers among the remaining numbers."""
    found = [
        Finding("IBAN", m.start(), m.end())
        for m in _IBAN.finditer(text)
        if _edges_ok(text, m.start(), m.end()) and iban_ok(m.group())
    ]
    taken = [(f.start, f.end) for f in found]
    for m in numbers:
        if not _edges_ok(text, m.start(), m.end()):
            continue
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        value = m.group()
        if _IPV4.fullmatch(value):
            kind = "IP" if _ip(value) else None
        else:
            kind = _number_kind(value.strip(), region)
        if kind is not None:
            found.append(Finding(kind, m.start(), m.end()))
    return found


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def find(text: str, *, pii: bool, secrets: bool, region: str = "US") -> list[Finding]:
    """Non-overlapping findings in text order; a credential wins over personal data inside it."""
    found = (find_secrets(text) if secrets else []) + (find_pii(text, region) if pii else [])
    if len(found) < 2:
        return found
    found.sort(key=lambda f: (f.start, not f.secret, -f.end))
    kept: list[Finding] = []
    for f in found:
        if kept and f.start < kept[-1].end:
            continue
        kept.append(f)
    return kept
