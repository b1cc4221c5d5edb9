"""A listener that writes each finished monitoring run's verdict as its DAG run note ("ALERT <day>: ..." / "ok ...").

Task code cannot reach the metadata database in Airflow 3, but listeners run where the scheduler (or `dag.test()`)
changes the run's state, inside its database session. The verdict comes from the `log_results` task's small XCom
(its `note`, built by `watchkeeper.run_note`); a failed run names its failed tasks. Registered by `plugin.py`.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

VERDICT_TASK = "log_results"
LIMIT = 1000  # dag_run_note.content


def verdict_of(dag_run, session) -> dict | None:
    """The `log_results` summary of a Watchkeeper run (None: not a monitoring run, or it did not get that far)."""
    from airflow.models.xcom import XComModel

    query = XComModel.get_many(
        run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=VERDICT_TASK, key="return_value"
    )
    row = session.scalars(query).first()
    value = XComModel.deserialize_value(row) if row is not None else None
    return value if isinstance(value, dict) and "note" in value else None


def note_for(summary: dict | None, failed_tasks: list[str]) -> str | None:
    """The run's note: the day's verdict, prefixed by the failed tasks when the run failed (pure)."""
    if failed_tasks:
        head = f"FAILED at {', '.join(failed_tasks)}"
        return (f"{head} · {summary['note']}" if summary else head)[:LIMIT]
    return summary["note"][:LIMIT] if summary else None


def _annotate(dag_run, failed: bool) -> None:
    if not dag_run.dag_id.startswith("watchkeeper_"):
        return
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy.orm import object_session

    try:
        # The scheduler passes a run bound to its session; `dag.test()` a detached copy, with its session in
        # the thread's scoped `settings.Session`. Either way the caller commits the run's new state and the note.
        session = object_session(dag_run) or settings.Session()
        target = dag_run if object_session(dag_run) is session else session.get(DagRun, dag_run.id)
        failed_tasks = sorted(
            ti.task_id
            for ti in dag_run.get_task_instances(state=[TaskInstanceState.FAILED], session=session)
        ) if failed else []  # fmt: skip
        note = note_for(verdict_of(dag_run, session), failed_tasks)
        if note and target is not None:
            target.note = note
            log.info("note of %s %s: %s", dag_run.dag_id, dag_run.run_id, note)
    except Exception:  # a note must never break the scheduler loop
        log.exception("could not write the note of %s %s", dag_run.dag_id, dag_run.run_id)


@hookimpl
def on_dag_run_success(dag_run, msg: str) -> None:
    _annotate(dag_run, failed=False)


@hookimpl
def on_dag_run_failed(dag_run, msg: str) -> None:
    _annotate(dag_run, failed=True)
