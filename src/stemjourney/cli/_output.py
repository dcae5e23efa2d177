"""Rows on standard output as an aligned table, JSON or CSV: ``--format table|json|csv``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import click

from stemjourney.cli._params import Choice

__all__ = ["FORMAT", "ROW_FORMATS", "table", "write_rows"]

ROW_FORMATS = ("table", "json", "csv")
"""How list commands write their rows."""


FORMAT = click.option(
    "--format",
    "fmt",
    type=Choice(ROW_FORMATS),
    default="table",
    show_default=True,
    help="An aligned table, a JSON list of objects, or CSV with a header row.",
)
"""The ``--format`` option of list commands."""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Aligned columns under a header and a rule, two spaces apart, no trailing blanks."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )
    return lines


def write_rows(
    out: TextIO, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], fmt: str
) -> None:
    """Write ``rows`` (dicts with ``columns``) in ``fmt``: table, json or csv."""
    if fmt == "json":
        out.write(json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2) + "\n")
    elif fmt == "csv":
        import csv

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(r.get(c)) for c in columns] for r in rows)
    else:
        out.write("\n".join(table(columns, [[r.get(c) for c in columns] for r in rows])) + "\n")
