"""Finding PII and blocked keywords in text: regexes, confirmed by checksums where one exists.

Every detector returns spans; :class:`Matcher` runs a rule's detectors over a
string as a model reads it (NFKC, format characters removed: plugins/guardrails/normalize.py),
resolves overlaps (first detector in priority order wins) and masks the original text,
leaving everything else in it as it was. Pure functions, no I/O, so they are cheap to
test and to run per request.

Card numbers and IBANs are found as runs of digit (or letter-and-digit) groups, and the
checksum is tried on every stretch of whole groups of a valid length, longest first: so a
card followed by more digits (``4111 1111 1111 1111 123``, a CVC) is still found, and
boundaries are never invented inside a group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from plugins.guardrails.normalize import normalize

Span = tuple[int, int, str]        # start, end, kind


def luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    s = text.replace(" ", "").upper()
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_ok(text: str) -> bool:
    return _DNI_LETTERS[int(text[:8]) % 23] == text[8].upper()


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None
    label: str = ""

    def spans(self, text: str) -> Iterable[Span]:
        for m in self.pattern.finditer(text):
            if self.check is None or self.check(m.group(0)):
                yield m.start(), m.end(), self.kind


@dataclass(frozen=True)
class GroupedDetector(Detector):
    """A run of groups (``pattern`` finds the run, ``group`` its groups); ``check`` decides on
    stretches of whole groups whose length (counted in ``unit`` characters) is in [shortest, longest]."""

    group: re.Pattern[str] = re.compile(r"\d+")
    unit: re.Pattern[str] = re.compile(r"\d")
    shortest: int = 13
    longest: int = 19
    from_first_only: bool = False        # an IBAN starts with its country code: only stretches from there

    def spans(self, text: str) -> Iterable[Span]:
        for run in self.pattern.finditer(text):
            if len(run.group(0)) < self.shortest:
                continue                           # too short to hold one: most numbers in a text
            groups = [(g.start(), g.end(), len(self.unit.findall(g.group(0))))
                      for g in self.group.finditer(run.group(0))]
            a = 0
            while a < len(groups):
                found = self._longest_valid(run.group(0), groups, a)
                if found is None:
                    if self.from_first_only:
                        break
                    a += 1
                    continue
                b = found
                yield run.start() + groups[a][0], run.start() + groups[b][1], self.kind
                if self.from_first_only:
                    break
                a = b + 1

    def _longest_valid(self, run: str, groups: list[tuple[int, int, int]], a: int) -> int | None:
        total, ends = 0, []
        for b in range(a, len(groups)):
            total += groups[b][2]
            if total > self.longest:
                break
            if total >= self.shortest:
                ends.append(b)
        for b in reversed(ends):
            if self.check is None or self.check(run[groups[a][0]:groups[b][1]]):
                return b
        return None


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _phone_ok(s: str) -> bool:
    n = len(_digits(s))
    return 9 <= n <= 15


# Priority order: a card number is not also reported as a phone number, nor an IBAN's digits as a card.
DETECTORS: dict[str, Detector] = {d.kind: d for d in (
    Detector("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
             label="[EMAIL]"),
    GroupedDetector("iban", re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]*(?: [A-Z0-9]+)*\b"), iban_ok, "[IBAN]",
                    group=re.compile(r"[A-Z0-9]+"), unit=re.compile(r"[A-Z0-9]"), shortest=15, longest=34,
                    from_first_only=True),
    GroupedDetector("card", re.compile(r"(?<!\d)\d+(?:[ -]\d+)*(?!\d)"),
                    lambda s: luhn_ok(_digits(s)), "[CARD]"),
    Detector("us_ssn", re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"), label="[SSN]"),
    Detector("uk_nino", re.compile(r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
                                   r" ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"), label="[NATIONAL_ID]"),
    Detector("es_dni", re.compile(r"\b\d{8}[A-Za-z]\b"), dni_ok, "[NATIONAL_ID]"),
    Detector("phone", re.compile(r"(?<![\w+-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
                                 r"\d{2,4}(?:[ .-]?\d{3,4}){1,3}(?![\w-])"), _phone_ok, "[PHONE]"),
)}
GROUPS = {"national_id": ("us_ssn", "uk_nino", "es_dni")}
DESCRIPTIONS = {"email": "an email address", "card": "a payment card number", "iban": "an IBAN",
                "us_ssn": "a US social security number", "uk_nino": "a UK national insurance number",
                "es_dni": "a Spanish DNI number", "phone": "a phone number", "keyword": "a blocked keyword"}


def expand(kinds: Iterable[str]) -> list[Detector]:
    wanted = {k for kind in kinds for k in GROUPS.get(kind, (kind,))}
    return [d for kind, d in DETECTORS.items() if kind in wanted]     # keeps priority order


def _keyword_pattern(word: str) -> str:
    """A keyword as a model would still read it: normalized like the text, and with any run of
    spaces, punctuation or nothing at all between its words (``Project Falcon``, ``project-falcon``,
    and ``Project\u200bFalcon``, which is ``ProjectFalcon`` once the zero-width space is gone)."""
    return r"[\W_]*".join(re.escape(part) for part in normalize(word).text.split())


def keyword_detector(words: Iterable[str]) -> Detector | None:
    patterns = [p for p in (_keyword_pattern(w) for w in words if w) if p]
    if not patterns:
        return None
    alternatives = "|".join(sorted(patterns, key=len, reverse=True))
    return Detector("keyword", re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), label="[REDACTED]")


class Matcher:
    """A rule's detectors: find the first hit, or mask every hit."""

    def __init__(self, detectors: list[Detector], mask: str | None = None) -> None:
        self.detectors = detectors
        self.mask_text = mask

    def find(self, text: str) -> Span | None:
        """The first hit, as a span of *text* itself."""
        norm = normalize(text)
        for d in self.detectors:
            for start, end, kind in d.spans(norm.text):
                return (*norm.span(start, end), kind)
        return None

    def spans(self, text: str) -> list[Span]:
        """Every hit, without overlaps, as spans of *text* itself."""
        norm = normalize(text)
        taken: list[Span] = []
        for d in self.detectors:
            for s in d.spans(norm.text):
                if all(s[1] <= t[0] or s[0] >= t[1] for t in taken):
                    taken.append(s)
        return sorted((*norm.span(start, end), kind) for start, end, kind in taken)

    def mask(self, text: str) -> str:
        spans = self.spans(text)
        if not spans:
            return text
        labels = {d.kind: d.label for d in self.detectors}
        out, pos = [], 0
        for start, end, kind in spans:
            if end <= pos:
                continue                     # two hits from one original character (a ligature): masked once
            out += [text[pos:max(start, pos)], self.mask_text or labels[kind]]
            pos = end
        out.append(text[pos:])
        return "".join(out)
