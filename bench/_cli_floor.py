"""The floor of the command line's start-up: plain python with sqlite3 and json.

What a careful engineer would write, without stemjourney, to answer the same question
as ``stemjourney journey show``, ``report patient`` and ``worklist``: read the same
rows from the store's tables (the work-list by the harness's SQL reference) and print
them. ``cli_start.py`` runs it as its own process beside the command line.

Run: ``python -c "import _cli_floor; _cli_floor.main()" show|patient|worklist DB ARG``
(with ``bench/`` on ``PYTHONPATH``, so its bytecode is cached as an installed module's is).
"""

from __future__ import annotations

import json
import sqlite3
import sys

_JOURNEY = (
    "SELECT id, patient_id, condition, site, side, cell_source, stage, cycle, version "
    "FROM journeys WHERE id = ?"
)
_MOVES = (
    "SELECT t.seq, t.source, t.target, t.cycle, a.occurred_at, a.actor "
    "FROM transitions AS t JOIN audit_log AS a ON a.id = t.audit_id "
    "WHERE t.journey_id = ? ORDER BY t.seq"
)
_RECORDS = (
    "SELECT version, kind, occurred_at, payload, cycle, amends FROM records "
    "WHERE journey_id = ? ORDER BY version"
)
_SCORES = (
    "SELECT version, instrument, value, measured_at, cycle, amends FROM observations "
    "WHERE journey_id = ? ORDER BY version"
)


def _journey(conn: sqlite3.Connection, journey_id: str) -> list[str]:
    j = conn.execute(_JOURNEY, (journey_id,)).fetchone()
    lines = [f"journey {j[0]} of patient {j[1]}: {j[2]}, {j[3]} ({j[4]}), {j[5]}"]
    lines.append(f"now {j[6]}, cycle {j[7]}, version {j[8]}")
    for seq, source, target, cycle, at, actor in conn.execute(_MOVES, (journey_id,)):
        lines.append(f"  {seq:>3}  {at[:16]}  {source or '(opened)':<12} -> {target:<12} "
                     f"cycle {cycle}  by {actor}")  # fmt: skip
    for version, kind, at, payload, cycle, amends in conn.execute(_RECORDS, (journey_id,)):
        fields = json.loads(payload)
        lines.append(f"  v{version:<3} {at[:10]}  {kind} ({len(fields)} fields, cycle {cycle})"
                     + (f" amends v{amends}" if amends else ""))  # fmt: skip
    for version, instrument, value, at, cycle, _ in conn.execute(_SCORES, (journey_id,)):
        lines.append(f"  v{version:<3} {at[:10]}  score {instrument} {value:g} (cycle {cycle})")
    return lines


def main() -> None:
    """Answer the question named by ``sys.argv[1]`` on the database ``sys.argv[2]``."""
    question, db, arg = sys.argv[1:4]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    if question == "show":
        lines = _journey(conn, arg)
    elif question == "patient":
        row = conn.execute(
            "SELECT id, external_id, display_name, birth_date FROM patients WHERE id = ?", (arg,)
        ).fetchone()
        lines = [f"Follow-up report: patient {row[0]} ({row[1]}, {row[2]}, born {row[3]})"]
        for (jid,) in conn.execute(
            "SELECT id FROM journeys WHERE patient_id = ? ORDER BY id", (arg,)
        ).fetchall():
            lines.extend(_journey(conn, jid))
    elif question == "worklist":
        with open(arg, encoding="utf-8") as source:
            query = json.load(source)
        rows = conn.execute(query["sql"], query["args"]).fetchall()
        lines = [f"{len(rows)} visit(s)"]
        lines.extend("  ".join(str(v) for v in row) for row in rows)
    else:
        raise SystemExit(f"unknown question {question!r}")
    conn.close()
    sys.stdout.write("\n".join(lines) + "\n")
