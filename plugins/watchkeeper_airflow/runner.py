"""Run the real monitoring DAG for a range of days in one process with `dag.test()` (the demo and e2e tests use it).

Starting Airflow costs seconds per process, so one process runs every day in order: for day D it passes
`logical_date` = D+1 00:00, whose inferred data interval is [D, D+1), exactly what a scheduled run of D covers.
Usage: python -m watchkeeper_airflow.runner DAG_ID[,DAG_ID...] DAY|FIRST..LAST [...]  (days run in the order
given; with several DAGs, every day of the first, then of the next)
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_run(start: datetime) -> dict:
    """`dag.test()` arguments for the day starting at `start`: the logical date closes the day (its data interval
    is then [day, day+1)), and `run_after` at the day's start names the run after it
    (`manual__2026-01-01T00:00:00+00:00`) instead of the wall clock. A re-run of the day replaces its run."""
    return {"logical_date": start + timedelta(days=1), "run_after": start}


def run_days(dag_id: str, days: list[date]) -> list[tuple[str, str]]:
    """Run the DAG once per day; return (day, final dag-run state) pairs."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    dag = bag.dags.get(dag_id)
    if dag is None:
        raise SystemExit(f"no DAG {dag_id!r}; import errors: {bag.import_errors or 'none'}")
    states = []
    for day in days:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        run = dag.test(**day_run(start))
        states.append((day.isoformat(), str(run.state)))
        print(f"{dag_id} {day}: {run.state}", flush=True)
    return states


def parse_days(specs: list[str]) -> list[date]:
    days: list[date] = []
    for spec in specs:
        first, _, last = spec.partition("..")
        days += days_between(date.fromisoformat(first), date.fromisoformat(last or first))
    return days


def main(argv: list[str]) -> int:
    dag_ids, *specs = argv
    failed = []
    for dag_id in dag_ids.split(","):
        failed += [f"{dag_id} {d}" for d, s in run_days(dag_id, parse_days(specs)) if s != "success"]
    if failed:
        print(f"{len(failed)} day(s) did not succeed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
