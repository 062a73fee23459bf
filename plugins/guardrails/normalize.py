"""What a model reads, as the detectors should see it: NFKC, without format characters.

Tricks that keep PII and keywords legible to a model but not to a regex: fullwidth forms
(``alice\uff20example.com``), ligatures and other compatibility characters (folded by NFKC),
and zero-width or other format characters (Unicode category Cf: ``\\u200b``, ``\\u200d``,
``\\u2060``, soft hyphens, bidi controls) inside a card number or a keyword. The detectors
run on the normalized text; :class:`Normalized` maps every span found there back to the
original, so masking replaces exactly the matched part and leaves the rest untouched.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: the format (Cf) characters of Unicode 14 (a test compares them with unicodedata), for a
#: C-speed "is there anything to remove?" test; removing them goes by unicodedata itself
FORMAT_CHARS = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]")


@dataclass(frozen=True, slots=True)
class Normalized:
    """*text* as detectors see it, and where each of its characters came from in *original*."""

    original: str
    text: str
    #: origin[i] = (start, end) of the original characters normalized character i came from;
    #: None when the text needed no change (identity mapping)
    origin: list[tuple[int, int]] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of normalized ``text[start:end]`` (end > start)."""
        if self.origin is None:
            return start, end
        return self.origin[start][0], self.origin[end - 1][1]


_last: list[Normalized] = []          # the last text normalized: every rule of a request reads the same field


def normalize(text: str) -> Normalized:
    if _last and _last[0].original is text:
        return _last[0]
    found = _normalize(text)
    _last[:] = [found]
    return found


def _normalize(text: str) -> Normalized:
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and not FORMAT_CHARS.search(text)):
        return Normalized(text, text)
    out: list[str] = []
    origin: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if unicodedata.category(text[i]) == "Cf":
            i += 1
            continue
        j = i + 1
        while j < n and unicodedata.combining(text[j]):     # a base character and its marks compose together
            j += 1
        for ch in unicodedata.normalize("NFKC", text[i:j]):
            if unicodedata.category(ch) != "Cf":
                out.append(ch)
                origin.append((i, j))
        i = j
    return Normalized(text, "".join(out), origin)
