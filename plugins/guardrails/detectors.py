"""Finding PII and blocked keywords in text: regexes, confirmed by checksums where one exists.

Every detector returns spans; :class:`Matcher` runs a rule's detectors over a
string, resolves overlaps (first detector in priority order wins) and masks.
Pure functions, no I/O, so they are cheap to test and to run per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _phone_ok(s: str) -> bool:
    n = len(_digits(s))
    return 9 <= n <= 15


# Priority order: a card number is not also reported as a phone number.
DETECTORS: dict[str, Detector] = {d.kind: d for d in (
    Detector("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
             label="[EMAIL]"),
    Detector("card", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
             lambda s: luhn_ok(_digits(s)), "[CARD]"),
    Detector("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"), iban_ok, "[IBAN]"),
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


def keyword_detector(words: Iterable[str]) -> Detector | None:
    words = [w for w in words if w]
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return Detector("keyword", re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), label="[REDACTED]")


class Matcher:
    """A rule's detectors: find the first hit, or mask every hit."""

    def __init__(self, detectors: list[Detector], mask: str | None = None) -> None:
        self.detectors = detectors
        self.mask_text = mask

    def find(self, text: str) -> Span | None:
        for d in self.detectors:
            for span in d.spans(text):
                return span
        return None

    def spans(self, text: str) -> list[Span]:
        taken: list[Span] = []
        for d in self.detectors:
            for s in d.spans(text):
                if all(s[1] <= t[0] or s[0] >= t[1] for t in taken):
                    taken.append(s)
        return sorted(taken)

    def mask(self, text: str) -> str:
        spans = self.spans(text)
        if not spans:
            return text
        labels = {d.kind: d.label for d in self.detectors}
        out, pos = [], 0
        for start, end, kind in spans:
            out += [text[pos:start], self.mask_text or labels[kind]]
            pos = end
        out.append(text[pos:])
        return "".join(out)
