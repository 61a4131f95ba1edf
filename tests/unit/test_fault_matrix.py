"""The fault matrix (docs/reliability.md) stays true to the tests: every test it names exists.

Each pipeline has a section with a table of scenario | expected outcome | test. A reference is
``path.py::name`` (relative to ``tests/``, or to ``plugins/library_integrations/`` for a
doctest), or ``::name`` for another test of the file named just before it in the same cell.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "docs" / "reliability.md"
PIPELINES = ("bokbasen_loan_report", "nb_loan_statistics", "bokbasen_metadata_sync", "patron registry")
REFERENCE = re.compile(r"`([\w/.-]*\.py)?(?:::(\w+))?`")


def _sections() -> dict[str, list[list[str]]]:
    """Section title -> table rows (cells), header and separator rows left out."""
    sections: dict[str, list[list[str]]] = {}
    title = None
    for line in MATRIX.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            title = line[3:]
            sections[title] = []
        elif title and line.startswith("|") and not line.startswith("|---") and not line.startswith("| Scenario"):
            sections[title].append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return sections


def _resolve(path: str) -> Path | None:
    for base in (ROOT / "tests", ROOT / "plugins" / "library_integrations", ROOT):
        if (base / path).is_file():
            return base / path
    return None


def _references() -> list[tuple[str, str, str | None]]:
    """(scenario, file, name) for every test the matrix names."""
    found = []
    for rows in _sections().values():
        for cells in rows:
            scenario, test_cell = cells[0], cells[-1]
            current = None
            for path, name in REFERENCE.findall(test_cell):
                if path:
                    current = path
                if current and current.endswith(".py"):
                    found.append((scenario, current, name or None))
    return found


def test_every_pipeline_has_a_fault_table():
    sections = _sections()
    for pipeline in PIPELINES:
        rows = next((rows for title, rows in sections.items() if pipeline in title.lower() or pipeline in title),
                    None)
        assert rows, f"docs/reliability.md has no fault table for {pipeline}"
        assert len(rows) >= 5


def test_every_row_names_a_test_or_says_it_has_none():
    for title, rows in _sections().items():
        for cells in rows:
            assert len(cells) >= 3, f"{title}: a row without three columns: {cells}"
            assert REFERENCE.search(cells[-1]) or "not covered by a test" in cells[-1], (
                f"{title}: {cells[0]!r} names no test")


@pytest.mark.parametrize(("scenario", "path", "name"), _references(), ids=lambda v: str(v)[:60])
def test_the_named_test_exists(scenario, path, name):
    file = _resolve(path)
    assert file is not None, f"{scenario!r}: {path} does not exist"
    if name:
        assert re.search(rf"^\s*(?:async\s+)?def {name}\b|^class {name}\b", file.read_text(encoding="utf-8"),
                         re.MULTILINE), f"{scenario!r}: {path} has no {name}"
