"""Today's follow-up calls: who is due or overdue, printed for the coordinator.

Run it with ``python examples/worklist_today.py [DATABASE] [--on 2026-11-23] [--days 7]``.
Without a database it uses the in-memory demo clinic, so it runs anywhere.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta

from stemjourney.reports import to_text, worklist_report


def main(argv: list[str] | None = None) -> int:
    """Print the work-list from the day ``--on`` for ``--days`` days."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", nargs="?", help="a stemjourney database (default: demo clinic)")
    parser.add_argument("--on", type=date.fromisoformat, default=datetime.now(UTC).date())
    parser.add_argument("--days", type=int, default=0, help="how many days after --on to include")
    args = parser.parse_args(argv)
    start, end = args.on, args.on + timedelta(days=args.days)

    if args.database:
        from stemjourney.store import open_store

        with open_store(args.database) as store:
            work = worklist_report(store, start, end)
    else:
        from stemjourney.demo import demo_clinic

        work = worklist_report(demo_clinic(patients=150, today=start), start, end)

    print(to_text(work))
    overdue = sum(item.status == "overdue" for item in work.items)
    print(f"{len(work.items)} visits to arrange, {overdue} overdue")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
