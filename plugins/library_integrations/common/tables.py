"""Plain-text tables for task logs: what a data engineer reads first at 7 a.m.

Columns are padded to their widest value and nothing is cut: put the short, decisive
columns (status, name) first and the free text (reasons) last, so a long reason never
pushes the status off screen.

>>> print(format_table([{"status": "failed", "agency": "NO-2000002 Bergen", "reason": "HTTP 400: bad ISIL"},
...                     {"status": "accepted", "agency": "NO-2030100 Oslo", "reason": "HTTP 204"}]))
status    agency             reason
--------  -----------------  ------------------
failed    NO-2000002 Bergen  HTTP 400: bad ISIL
accepted  NO-2030100 Oslo    HTTP 204
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def format_table(rows: Sequence[Mapping[str, object]], *, empty: str = "(no rows)") -> str:
    if not rows:
        return empty
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    last = headers[-1]

    def line(values: Mapping[str, object]) -> str:
        return "  ".join(str(values[h]) if h == last else str(values[h]).ljust(widths[h]) for h in headers)

    return "\n".join([line({h: h for h in headers}), "  ".join("-" * widths[h] for h in headers),
                      *(line(r) for r in rows)])
