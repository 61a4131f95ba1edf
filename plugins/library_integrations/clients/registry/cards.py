"""National card numbers and the number series a library reserved.

A national card number is ``N`` followed by 9 digits; each library issues only from the
series it reserved with the registry's operator. Anything else (a library's own barcode
series, old cards) is a *local* card number: it is never sent to the registry.

>>> is_national_card_number("N000123456"), is_national_card_number("03020000123"), is_national_card_number(None)
(True, False, False)
>>> series = NumberSeries.parse("N000100000-N000100099")
>>> series.contains("N000100042"), series.contains("N000200000"), series.size
(True, False, 100)
>>> NumberSeries.parse("N1-N2")
Traceback (most recent call last):
...
ValueError: a national number series is 'N<9 digits>-N<9 digits>', first <= last: 'N1-N2'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NATIONAL_CARD_NUMBER = re.compile(r"^N\d{9}$")


def is_national_card_number(number: str | None) -> bool:
    """``N`` + 9 digits (the shape; whether it is in a reserved series is a separate check)."""
    return bool(number) and bool(NATIONAL_CARD_NUMBER.match(number))


@dataclass(frozen=True)
class NumberSeries:
    """A reserved range of national card numbers, both ends included."""

    first: str
    last: str

    @classmethod
    def parse(cls, text: str) -> NumberSeries:
        first, _, last = (text or "").strip().partition("-")
        first, last = first.strip(), last.strip()
        if not (is_national_card_number(first) and is_national_card_number(last)) or first > last:
            raise ValueError(f"a national number series is 'N<9 digits>-N<9 digits>', first <= last: {text!r}")
        return cls(first, last)

    def contains(self, number: str | None) -> bool:
        return is_national_card_number(number) and self.first <= number <= self.last

    @property
    def size(self) -> int:
        return int(self.last[1:]) - int(self.first[1:]) + 1

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"
