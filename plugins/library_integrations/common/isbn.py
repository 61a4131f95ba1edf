"""ISBN-13 of a catalogued ISBN, with python-stdnum: shared by every pipeline that needs the ISBN itself.

``manifestation.isbn`` is free text as catalogued. :func:`to_isbn13` gives the ISBN-13 of a
book's ISBN, or ``None`` when the value is not an ISBN:

1. Unicode NFKC (full-width digits become ASCII), every kind of dash becomes ``-``;
2. a leading label (``ISBN``, ``ISBN-13:``, ``ISBN 10``) is dropped, and so is a trailing
   qualifier after ``(``, ``:``, ``;``, ``,`` or ``/`` (``82-03-36418-7 (ib.)``);
3. hyphens and spaces go; 13 digits starting 978/979 are checked with stdnum's EAN check digit
   (``stdnum.ean.calc_check_digit``: what ``stdnum.isbn.validate`` does for an ISBN-13 after its
   own, much slower, re-cleaning of the text), 10 characters with ``stdnum.isbn.validate``
   (check digit, ``X`` allowed) and converted to ISBN-13 (``978`` + 9 digits + EAN check digit,
   as ``stdnum.isbn.to_isbn13``). The unit tests assert that this equals stdnum's own path.

Not ISBNs: ISMN (``979-0``, printed music), ISSN-EANs (``977``), other EANs, 9-digit SBNs
(``stdnum`` would pad them; a random 9-digit string passes one time in eleven), wrong check
digits, garbage, empty.

>>> to_isbn13("82-03-36418-7"), to_isbn13("ISBN 978-82-03-36418-1 (ib.)"), to_isbn13("９７８８２０３３６４１８１")
('9788203364181', '9788203364181', '9788203364181')
>>> to_isbn13("979-0-2600-0043-8"), to_isbn13("9771234567003"), to_isbn13("978-82-03-36418-2"), to_isbn13("  ")
(None, None, None, None)

:func:`isbn13_map` validates each *distinct* value once, for a column of a whole month.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from stdnum import ean as std_ean
from stdnum import isbn as std_isbn
from stdnum.exceptions import ValidationError

_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d]")
_LABEL = re.compile(r"(?i)^\s*ISBN(?:[- ]?1[03])?\s*[:.]?\s*")
_QUALIFIER = re.compile(r"\s*[(:;,/].*$", re.DOTALL)
_SEPARATORS = re.compile(r"[\s-]+")
_SHAPE = re.compile(r"^(?:[0-9]{9}[0-9X]|97[89][0-9]{10})$")


def to_isbn13(value: str | None) -> str | None:
    """The ISBN-13 (13 digits, no separators) of a catalogued value, or None if it is no ISBN."""
    if value is None:
        return None
    text = _DASHES.sub("-", unicodedata.normalize("NFKC", value)).strip()
    text = _QUALIFIER.sub("", _LABEL.sub("", text))
    compact = _SEPARATORS.sub("", text).upper()
    if not _SHAPE.match(compact) or compact.startswith("9790"):
        return None
    if len(compact) == 13:
        return compact if std_ean.calc_check_digit(compact[:12]) == compact[12] else None
    try:
        std_isbn.validate(compact)  # the ISBN-10 check digit
    except ValidationError:
        return None
    body = "978" + compact[:9]
    return body + std_ean.calc_check_digit(body)


def isbn13_map(values: Iterable[str | None]) -> dict[str, str | None]:
    """``{value: isbn13 or None}`` for each distinct non-null value (each validated once).

    >>> isbn13_map(["82-03-36418-7", "9788203364181", "82-03-36418-7", None, "ukjent"])
    {'82-03-36418-7': '9788203364181', '9788203364181': '9788203364181', 'ukjent': None}
    """
    out: dict[str, str | None] = {}
    for value in values:
        if value is not None and value not in out:
            out[value] = to_isbn13(value)
    return out
