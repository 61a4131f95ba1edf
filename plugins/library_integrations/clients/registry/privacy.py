"""Personal data kept out of what the sync logs, stores as an error or raises.

The registry's ``melding`` is free text and may echo what it was sent ("Lånenummer
N000123456 er i bruk", "Fødselsnummer 01019012345 finnes"). :func:`scrub` replaces, before
the text goes anywhere:

* the values the caller knows to be personal (the patron's name, national id, card
  number, e-mail, ...), given as ``known``;
* any run of 8 or more digits or digit groups (national ids, phone numbers, card numbers,
  dates; not a 7-digit library number), a national card number (``N`` + 9 digits), an
  e-mail address and a long hex string (an encrypted PIN),

with ``***``, and clips the result to :data:`LIMIT` characters.

>>> scrub("Lånenummer N000123456 er i bruk av 01019012345 (kari@example.no)")
'Lånenummer *** er i bruk av *** (***)'
>>> scrub("Ugyldig navn: Nordmann, Kari", "Nordmann, Kari")
'Ugyldig navn: ***'
>>> scrub("Biblioteket NO-2030100 (bruker bibsyst-2030100) er ukjent")
'Biblioteket NO-2030100 (bruker bibsyst-2030100) er ukjent'
>>> scrub(None) is None
True
"""

from __future__ import annotations

import re

REDACTED = "***"
LIMIT = 500
_PATTERNS = [
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),  # e-mail
    re.compile(r"\b[0-9A-Fa-f]{16,}\b"),  # encrypted PIN (hex)
    re.compile(r"\bN\d{9}\b"),  # national card number
    re.compile(r"\d[\d .-]{6,}\d"),  # 8+ digits, possibly grouped: ids, phones, cards, dates (not a library number)
]


def scrub(text: str | None, *known: str | None, limit: int = LIMIT) -> str | None:
    """``text`` without personal data (see the module docstring); None stays None."""
    if text is None:
        return None
    for value in sorted({k.strip() for k in known if k and len(k.strip()) >= 3}, key=len, reverse=True):
        text = re.sub(re.escape(value), REDACTED, text, flags=re.IGNORECASE)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
