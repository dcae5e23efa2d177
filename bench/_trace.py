"""The statements a store write runs, captured from its connection, and run again by hand.

:func:`capture` records what ``sqlite3.Connection.set_trace_callback`` sees on the
store's own connection while one write runs (SQLite expands the bound values into
the text). :func:`lift` turns the captures of many writes of the same kind back into
parameterised statements: at each place where a literal differs between the writes
it puts a ``?`` and keeps the value, the rest of the text is kept as the library wrote
it, so the hand-run statements are the library's statements with the same values,
prepared (and cached) the same way. :func:`run` runs one write's statements on a
plain connection, fetching every row as the library does; :func:`check` runs them
with a trace of its own and says whether SQLite saw exactly what it saw from the
library.

SQLite reports a statement again each time it fires a trigger (the trace shows the
outer statement once more), so repeats of an INSERT, UPDATE or DELETE right after
itself are collapsed: running the statement once fires the same triggers.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["Step", "capture", "check", "lift", "run"]

T = TypeVar("T")
Step = tuple[str, tuple[Any, ...]]
"""One statement to run: its text with ``?`` where values go, and the values."""

_TOKEN = re.compile(
    r"""(?P<str>'(?:[^']|'')*')"""
    r"""|(?P<blob>\b[xX]'[0-9a-fA-F]*')"""
    r"""|(?P<ident>"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)"""
    r"""|(?P<num>(?<![\w.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"""
)
_DML = ("INSERT", "UPDATE", "DELETE")


def capture(conn: sqlite3.Connection, work: Callable[[], T]) -> tuple[T, list[str]]:
    """Run ``work`` with a trace on ``conn``; return its result and the statements seen."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        result = work()
    finally:
        conn.set_trace_callback(None)
    return result, _collapse(seen)


def _collapse(seen: list[str]) -> list[str]:
    out: list[str] = []
    for sql in seen:
        if out and sql == out[-1] and sql.lstrip().upper().startswith(_DML):
            continue
        out.append(sql)
    return out


def _value(kind: str, text: str) -> Any:
    if kind == "str":
        return text[1:-1].replace("''", "'")
    if kind == "blob":
        return bytes.fromhex(text[2:-1])
    if kind == "null":
        return None
    if "." in text or "e" in text or "E" in text:
        return float(text)
    return int(text)


def _literals(sql: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The text between literals, and each literal (kind, text), in order."""
    parts: list[str] = []
    found: list[tuple[str, str]] = []
    last = 0
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "ident":
            if text.upper() != "NULL":
                continue
            kind = "null"
        parts.append(sql[last : match.start()])
        found.append((kind, text))
        last = match.end()
    parts.append(sql[last:])
    return parts, found


def lift(captures: Sequence[Sequence[str]]) -> list[list[Step]]:
    """Each capture as parameterised steps: a literal that differs between the captures
    becomes a parameter, one that is the same in all of them stays in the text.

    Captures whose statements differ in number or shape are lifted each on its own,
    every literal a parameter.
    """
    parsed = [[_literals(sql) for sql in one] for one in captures]
    shapes = {tuple(tuple(parts) for parts, _ in one) for one in parsed}
    if len(shapes) != 1:
        return [_lift_group([one])[0] for one in parsed]
    return _lift_group(parsed)


def _lift_group(parsed: list[list[tuple[list[str], list[tuple[str, str]]]]]) -> list[list[Step]]:
    out: list[list[Step]] = [[] for _ in parsed]
    for index, (parts, literals) in enumerate(parsed[0]):
        varies = [
            len(parsed) == 1 or any(one[index][1][k] != literals[k] for one in parsed)
            for k in range(len(literals))
        ]
        text = parts[0]
        for k, (_, literal) in enumerate(literals):
            text += ("?" if varies[k] else literal) + parts[k + 1]
        for n, one in enumerate(parsed):
            values = tuple(_value(*one[index][1][k]) for k in range(len(literals)) if varies[k])
            out[n].append((text, values))
    return out


def run(conn: sqlite3.Connection, steps: Sequence[Step]) -> None:
    """Run the steps on ``conn`` (autocommit: the steps hold their BEGIN and COMMIT)."""
    for sql, values in steps:
        conn.execute(sql, values).fetchall()


def check(conn: sqlite3.Connection, steps: Sequence[Step], expected: Sequence[str]) -> list[str]:
    """Run the steps with a trace; return how what SQLite saw differs from ``expected``."""
    _, seen = capture(conn, lambda: run(conn, steps))
    if seen == list(expected):
        return []
    if len(seen) != len(expected):
        return [f"{len(seen)} statements by hand, {len(expected)} by the library"]
    return [
        f"statement {i}: {a!r} != {b!r}"
        for i, (a, b) in enumerate(zip(seen, expected, strict=True))
    ][:3]
