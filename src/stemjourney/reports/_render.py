"""Reports as terminal text and as Markdown, and :func:`render` that picks a format by name."""

from __future__ import annotations

import json

from stemjourney.exceptions import ValidationError
from stemjourney.reports._tables import Report, Section, sections

__all__ = ["FORMATS", "render", "to_markdown", "to_text"]

FORMATS = ("text", "markdown", "csv", "html", "json")
"""The names :func:`render` accepts."""


def _text_table(s: Section) -> list[str]:
    headers, rows = s.headers, s.rows
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if s.is_numeric(i) else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in rows)
    return out


def _text_section(s: Section) -> list[str]:
    underline = "=" if s.level == 1 else "-" if s.level == 2 else "."
    out = [s.title, underline * len(s.title), *s.lines]
    out.extend(f"{'  ' * link.depth}- {link.text}" for link in s.links)
    if s.headers:
        out.extend(_text_table(s))
    out.extend(s.notes)
    out.append("")
    return out


def to_text(report: Report) -> str:
    """The report as plain text with aligned columns, for a terminal."""
    return "\n".join(line for s in sections(report) for line in _text_section(s))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_section(s: Section) -> list[str]:
    out = [f"{'#' * s.level} {s.title}", ""]
    if s.lines:
        out.extend([*s.lines, ""])
    if s.links:
        out.extend([*(f"{'  ' * link.depth}- {link.text}" for link in s.links), ""])
    if s.headers:
        out.append("| " + " | ".join(_cell(h) for h in s.headers) + " |")
        out.append(
            "|"
            + "|".join("---:" if s.is_numeric(i) else "---" for i in range(len(s.headers)))
            + "|"
        )
        out.extend("| " + " | ".join(_cell(c) for c in r) + " |" for r in s.rows)
        out.append("")
    if s.notes:
        out.extend([*s.notes, ""])
    return out


def to_markdown(report: Report) -> str:
    """The report as Markdown: headings, prose lines and pipe tables."""
    return "\n".join(line for s in sections(report) for line in _md_section(s))


def render(report: Report, fmt: str) -> str:
    """The report in the format named ``fmt``: one of :data:`FORMATS`.

    Raises :class:`~stemjourney.exceptions.ValidationError` for any other name.
    """
    if fmt == "text":
        return to_text(report)
    if fmt == "markdown":
        return to_markdown(report)
    if fmt == "csv":
        from stemjourney.reports._csv import to_csv

        return to_csv(report)
    if fmt == "html":  # jinja2 is imported only when HTML is asked for
        from stemjourney.reports._html import to_html

        return to_html(report)
    if fmt == "json":
        return json.dumps(report.as_dict(), indent=2) + "\n"
    raise ValidationError("format", "is not a report format", ", ".join(FORMATS))
