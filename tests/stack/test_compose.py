"""docker-compose.yml checked statically against the native stack's spec (no Docker engine needed).

It parses; every service has an image or a build; every variable it reads is in .env.example; versions, ports,
buckets and Airflow settings match `watchkeeper.stackspec` and the native stack's environment.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from watchkeeper import stackspec
from watchkeeper.prodstack import ProdStack

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(TEXT)
SERVICES = COMPOSE["services"]


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_every_service_has_an_image_or_a_build():
    assert SERVICES and all("image" in s or "build" in s for s in SERVICES.values())


def test_every_variable_is_in_the_example_env():
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", TEXT))
    assert used and used <= set(env_example()), used - set(env_example())


def test_versions_match_the_native_stack_and_the_lock():
    assert SERVICES["postgres"]["image"] == f"postgres:{stackspec.POSTGRES_MAJOR}"
    assert SERVICES["redis"]["image"] == f"redis:{stackspec.REDIS_MAJOR}"
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    airflow = next(p["version"] for p in lock["package"] if p["name"] == "apache-airflow")
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert base == f"apache/airflow:{airflow}-python3.11"
    assert SERVICES["airflow-worker"]["build"] == "." and SERVICES["mlflow"]["build"] == "."


def test_ports_and_connections_match_the_native_stack():
    env = SERVICES["airflow-worker"]["environment"]
    p = stackspec.PORTS
    assert f"@postgres:{p['postgres']}/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://redis:{p['redis']}/0"
    assert (
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
        == f"http://airflow-apiserver:{p['airflow']}/execution/"
    )
    assert f'"endpoint_url": "http://minio:{p["s3"]}"' in env["AIRFLOW_CONN_WATCHKEEPER_S3"]
    assert env["MLFLOW_TRACKING_URI"] == f"http://mlflow:{p['mlflow']}"
    assert f"{p['airflow']}:{p['airflow']}" in SERVICES["airflow-apiserver"]["ports"]
    assert f"{p['mlflow']}:{p['mlflow']}" in SERVICES["mlflow"]["ports"]
    assert f"{p['s3']}:{p['s3']}" in SERVICES["minio"]["ports"]
    # The same Airflow settings as the native stack, bar the paths and log-server ports local to a machine.
    local = {"AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER", "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
             "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT"}  # fmt: skip
    native = {k for k in ProdStack(data_dir="unused").environment() if k.startswith("AIRFLOW__")} - local
    assert native <= set(env), native - set(env)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == str(stackspec.WORKER_CONCURRENCY)


def test_every_airflow_service_loads_the_plugin_the_monitoring_dags_need():
    for name, service in SERVICES.items():
        if name.startswith("airflow-"):
            folder = service["environment"]["AIRFLOW__CORE__PLUGINS_FOLDER"]
            assert (
                f"./plugins:{folder}" in service["volumes"] and service["environment"]["PYTHONPATH"] == folder
            )


def test_mlflow_server_on_postgres_with_artifacts_in_the_created_bucket():
    argv = SERVICES["mlflow"]["entrypoint"]
    assert argv[argv.index("--workers") + 1] == "1"
    assert argv[argv.index("--backend-store-uri") + 1].endswith(
        f"@postgres:{stackspec.PORTS['postgres']}/mlflow"
    )
    assert argv[argv.index("--artifacts-destination") + 1] == f"s3://{stackspec.ARTIFACT_BUCKET}/"
    create = " ".join(SERVICES["createbuckets"]["entrypoint"])
    assert f"local/{stackspec.ARTIFACT_BUCKET}" in create and f"local/{stackspec.DATA_BUCKET}" in create
    init = (ROOT / "docker/postgres-init.sql").read_text()
    assert all(
        db in init or db == SERVICES["postgres"]["environment"]["POSTGRES_DB"] for db in stackspec.DATABASES
    )


@pytest.mark.parametrize("service", ["postgres", "redis", "minio", "mlflow", "airflow-apiserver",
                                     "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                                     "airflow-worker"])  # fmt: skip
def test_healthchecks(service):
    assert SERVICES[service]["healthcheck"]["test"]


def test_every_airflow_component_runs_and_workers_wait_for_the_api():
    for name in stackspec.AIRFLOW_SERVICES:
        key = "airflow-" + {"api-server": "apiserver", "celery worker": "worker"}.get(name, name)
        expected = f"python -m {stackspec.WORKER_MODULE} {name}" if name == "celery worker" else name
        assert SERVICES[key]["command"] == expected
    deps = SERVICES["airflow-worker"]["depends_on"]
    assert deps["airflow-apiserver"] == {"condition": "service_healthy"}
