"""Assets linking Watchkeeper's DAGs: a model's retraining request, updated by monitoring, scheduling retraining.

Kept apart from the task code so that DAG files import nothing heavy at parse time.
"""

from __future__ import annotations

from airflow.sdk import Asset


def request_asset(model: str) -> Asset:
    """The Asset a model's monitoring DAG updates when it asks for a retraining (extra: model, day, reason)."""
    return Asset(name=f"watchkeeper_{model}_retraining_request", uri=f"watchkeeper://retraining/{model}")
