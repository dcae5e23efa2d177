"""The monthly outcomes meeting: the cohort report as Markdown and HTML, in a few lines.

Run it with ``python examples/monthly_report.py [DATABASE] [--month 2026-10] [--out DIR]``.
Without a database it uses the in-memory demo clinic, so it runs anywhere.
"""

from __future__ import annotations

import argparse
import calendar
from datetime import UTC, date, datetime
from pathlib import Path

from stemjourney.reports import cohort_report, to_html, to_markdown


def month_end(month: str) -> date:
    """The last day of a month given as YYYY-MM."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, calendar.monthrange(year, number)[1])


def main(argv: list[str] | None = None) -> int:
    """Write cohort.md and cohort.html for the month into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", nargs="?", help="a stemjourney database (default: demo clinic)")
    parser.add_argument("--month", default=datetime.now(UTC).strftime("%Y-%m"), help="YYYY-MM")
    parser.add_argument("--out", default="monthly-report", help="output folder")
    args = parser.parse_args(argv)
    on = month_end(args.month)

    if args.database:
        from stemjourney.store import open_store

        with open_store(args.database) as store:
            report = cohort_report(store, on=on)
    else:
        from stemjourney.demo import demo_clinic

        report = cohort_report(demo_clinic(patients=150, today=on), on=on)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cohort.md").write_text(to_markdown(report), encoding="utf-8")
    (out / "cohort.html").write_text(to_html(report), encoding="utf-8")
    print(f"{report.journeys} treated journeys in {len(report.groups)} groups on {on}")
    print(f"wrote {out / 'cohort.md'} and {out / 'cohort.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
