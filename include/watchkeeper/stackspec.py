"""What the production-shaped stack is made of: services, their ports, versions, databases and buckets.

One source of truth for the native stack (`watchkeeper.prodstack`, `./scripts/stack`) and `docker-compose.yml`;
tests/test_compose.py checks the compose file against it.
"""

from __future__ import annotations

PORTS = {
    "postgres": 5432,
    "redis": 6379,
    "s3": 9000,
    "mlflow": 5000,
    "airflow": 8080,
    "worker_logs": 8793,
    "triggerer_logs": 8794,
}
"""Default loopback ports, the same as the compose file publishes or uses inside its network."""

POSTGRES_MAJOR = 15
"""PostgreSQL major version: Debian 12's `postgresql` package and the compose `postgres:` image."""

REDIS_MAJOR = 7
"""Redis major version: Debian 12's `redis-server` package and the compose `redis:` image."""

POSTGRES_USER = "airflow"
"""The database role owning both databases."""

DATABASES = ("airflow", "mlflow")
"""Airflow's metadata database and the MLflow tracking store, in one PostgreSQL server."""

ARTIFACT_BUCKET = "mlflow-artifacts"
"""Bucket MLflow's server writes artifacts to (`--artifacts-destination s3://mlflow-artifacts/`)."""

DATA_BUCKET = "watchkeeper-demo"
"""Bucket of the demo models' data and results (the `storage.uri` of include/models/*.yaml)."""

AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "celery worker")
"""Airflow's processes under CeleryExecutor; compose runs each as a service `airflow-<name>`."""

WORKER_MODULE = "watchkeeper_airflow.worker"
"""How the Celery worker starts (`python -m WORKER_MODULE celery worker`): it imports the engine's libraries once so
every forked task process inherits them (plugins/watchkeeper_airflow/worker.py); native stack and compose alike."""

APT_PACKAGES = {"postgres": "postgresql", "redis-server": "redis-server"}
"""Server binary → the Debian/Ubuntu package that provides it."""

WORKER_CONCURRENCY = 2
"""Task slots of the one Celery worker; with `drift.threads` per task, keep slots × threads ≤ cores."""
