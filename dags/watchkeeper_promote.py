"""Promote a model version to `champion` (or roll back to `previous_champion`): a person triggers it by hand.

Params: `model` (a configured model with a `model:` section), `action` (promote / rollback), `version`, `reason`,
`requested_by`. The move is recorded as registry tags and in the model's history document.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import Param, dag, get_current_context, task

MODELS_DIR = Path(
    os.environ.get("WATCHKEEPER_MODELS_DIR", Path(__file__).resolve().parents[1] / "include" / "models")
)
MODELS = sorted(p.stem for p in MODELS_DIR.glob("*.y*ml"))


@dag(
    dag_id="watchkeeper_promote",
    description="Move a model's champion alias (promote a version or roll back), recorded with who and why",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    params={
        "model": Param(
            MODELS[0] if MODELS else "", type="string", enum=MODELS or [""], description="Model (YAML name)"
        ),
        "action": Param("promote", type="string", enum=["promote", "rollback"]),
        "version": Param(None, type=["null", "integer"], description="Version to promote"),
        "reason": Param("approved by the model owner", type="string"),
        "requested_by": Param("", type="string", description="Who approves (recorded with the move)"),
    },
    tags=["watchkeeper", "promotion"],
    doc_md=__doc__,
)
def watchkeeper_promote():
    @task
    def move_champion() -> dict:
        from watchkeeper_airflow.retraining import promotion

        ctx = get_current_context()
        p = ctx["params"]
        path = next(MODELS_DIR.glob(f"{p['model']}.y*ml"))
        by = p["requested_by"] or f"airflow run {ctx['run_id']}"
        return promotion(str(path), p["action"], p["version"], by, p["reason"])

    move_champion()


watchkeeper_promote()
