"""Typed XCom payloads: frozen dataclasses that cross task boundaries as plain JSON.

Tasks pass small manifests between them (what was staged where, per-agency outcomes).
Instead of hand-built dicts read back by string keys, each pipeline declares them as
dataclasses deriving from :class:`XComPayload`; :meth:`~XComPayload.to_xcom` turns one into
JSON-able data (dates as ISO text, nested payloads as dicts) and
:meth:`~XComPayload.from_xcom` rebuilds it, checking the keys, so a renamed field fails at
the boundary with the field's name instead of a ``KeyError`` deep in a task.

>>> from dataclasses import dataclass
>>> from datetime import date
>>> @dataclass(frozen=True)
... class Manifest(XComPayload):
...     day: date
...     parts: list[str]
...     note: str | None = None
>>> m = Manifest(date(2026, 3, 29), ["a.parquet"])
>>> m.to_xcom()
{'day': '2026-03-29', 'parts': ['a.parquet'], 'note': None}
>>> Manifest.from_xcom(m.to_xcom()) == m
True
>>> Manifest.from_xcom({"day": "2026-03-29"})
Traceback (most recent call last):
...
ValueError: Manifest payload lacks field(s) parts; got day
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from functools import cache
from typing import Any, Self


def _plain(value: Any) -> Any:
    if isinstance(value, XComPayload):
        return value.to_xcom()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(options[0], value) if len(options) == 1 else value
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(hint) or (Any,)
        return [_typed(inner, v) for v in value]
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is date:
        return date.fromisoformat(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if issubclass(hint, XComPayload):
            return hint.from_xcom(value)
        return hint(**value)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


class XComPayload:
    """Mixin for frozen dataclasses that travel through XCom."""

    def to_xcom(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> Self:
        fields = dataclasses.fields(cls)
        required = [f.name for f in fields
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise ValueError(f"{cls.__name__} payload lacks field(s) {', '.join(missing)}; got {', '.join(data)}")
        hints = _hints(cls)
        return cls(**{f.name: _typed(hints[f.name], data[f.name]) for f in fields if f.name in data})
