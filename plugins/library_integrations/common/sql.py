"""SQL lives in ``.sql`` files under ``include/sql/<area>/``, parameterised, never formatted
from strings. :class:`SqlFiles` reads one area's files once per process.

>>> from library_integrations import SQL_DIR
>>> extract = SqlFiles(SQL_DIR / "extract")
>>> "loaned_at" in extract["loans"]
True
>>> extract["no_such_query"]
Traceback (most recent call last):
...
FileNotFoundError: no SQL file no_such_query.sql in .../include/sql/extract
"""

from __future__ import annotations

from pathlib import Path

from library_integrations import SQL_DIR


class SqlFiles:
    """The ``.sql`` files of one directory, by name without the suffix, cached."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        text = self._cache.get(name)
        if text is None:
            path = self.directory / f"{name}.sql"
            if not path.is_file():
                shown = path.parent.relative_to(SQL_DIR.parents[1]) if path.is_relative_to(SQL_DIR.parents[1]) else path.parent
                raise FileNotFoundError(f"no SQL file {name}.sql in .../{shown}")
            text = self._cache[name] = path.read_text(encoding="utf-8")
        return text

    def __repr__(self) -> str:
        return f"SqlFiles({str(self.directory)!r})"
