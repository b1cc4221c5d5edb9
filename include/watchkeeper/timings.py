"""Per-stage CPU and wall time of a run, written as JSON when `WATCHKEEPER_TIMINGS` names a file.

`timed(stage)` wraps each stage of `pipeline.run_day`; the benchmark and `run-day --timings` read the file.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_STAGES: dict[str, dict[str, float]] = {}
_START = (time.process_time(), time.perf_counter())


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Add this block's process CPU seconds and wall seconds to `stage`, then rewrite the timings file."""
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        yield
    finally:
        entry = _STAGES.setdefault(stage, {"cpu": 0.0, "wall": 0.0})
        entry["cpu"] += time.process_time() - cpu
        entry["wall"] += time.perf_counter() - wall
        # The process's peak so far: the stage at which it first jumps is the one that needs the memory.
        entry["peak_rss_mb_after"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        write()


def mark_startup() -> None:
    """Record the CPU the process spent before its first stage (interpreter start and imports)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _STAGES.setdefault("startup", {"cpu": usage.ru_utime + usage.ru_stime, "wall": 0.0})


def write(path: str | None = None) -> None:
    """Write the stages so far, the process's CPU and peak RSS since start (imports included)."""
    path = path or os.environ.get("WATCHKEEPER_TIMINGS")
    if not path:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    doc = {
        "stages": _STAGES,
        "process_cpu": usage.ru_utime + usage.ru_stime,
        "since_import_wall": time.perf_counter() - _START[1],
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }
    Path(path).write_text(json.dumps(doc, indent=1))
