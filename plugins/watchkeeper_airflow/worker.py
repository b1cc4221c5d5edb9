"""`airflow celery worker` with the engine's libraries imported first, so every task process starts with them.

On Linux a Celery worker forks its pool processes, and Airflow forks each task process from one of them without
exec (`airflow.sdk.execution_time.supervisor`): what this process imports before Celery starts is inherited, not
imported again by each of a day's dozen task processes. `WATCHKEEPER_WORKER_PRELOAD=0` turns it off (a worker short of
memory). Usage: `python -m watchkeeper_airflow.worker celery worker --concurrency 2` (the arguments of `airflow`).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time

PRELOAD = (
    "pandas", "pyarrow.parquet", "scipy.stats", "sklearn.metrics", "matplotlib.pyplot", "great_expectations",
    "mlflow", "watchkeeper.pipeline", "watchkeeper.tracking", "watchkeeper.quality.validate",
)  # fmt: skip
"""What the monitoring tasks import: data, quality (GX), drift (scipy), performance (sklearn), figures, MLflow."""
log = logging.getLogger(__name__)


def preload(modules: tuple[str, ...] = PRELOAD) -> dict[str, float]:
    """Import each module (a missing one is skipped); seconds spent per module."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    spent = {}
    for name in modules:
        t = time.perf_counter()
        try:
            importlib.import_module(name)
        except ImportError as exc:
            log.warning("not preloaded: %s (%s)", name, exc)
            continue
        spent[name] = round(time.perf_counter() - t, 2)
    return spent


def main(argv: list[str]) -> None:
    if os.environ.get("WATCHKEEPER_WORKER_PRELOAD", "1") != "0":
        print(f"watchkeeper worker: preloaded {preload()}", file=sys.stderr, flush=True)
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", *argv]
    airflow_main()


if __name__ == "__main__":
    main(sys.argv[1:])
