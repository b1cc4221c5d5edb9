"""Storage for a model from its Airflow connection: the aws connection's credentials and `endpoint_url` extra.

Falls back to the standard AWS environment variables when the connection does not exist (e.g. on AWS roles).
"""

from __future__ import annotations

import logging

from watchkeeper.config import ModelConfig
from watchkeeper.storage import S3Credentials, Storage, open_storages

log = logging.getLogger(__name__)


def credentials_for(conn_id: str) -> S3Credentials:
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=conn_id)
    try:
        config = hook.conn_config
    except AirflowNotFoundException:
        log.info("no Airflow connection %r; using AWS_* environment variables", conn_id)
        return S3Credentials.from_env()
    creds = hook.get_credentials()
    return S3Credentials(
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        session_token=creds.token,
        # boto3 itself honours AWS_ENDPOINT_URL(_S3); a connection without an endpoint does the same here
        endpoint_url=config.get_service_endpoint_url("s3") or S3Credentials.from_env().endpoint_url,
        region=config.region_name or "us-east-1",
    )


def storages_for(cfg: ModelConfig) -> tuple[Storage, Storage]:
    """(data, results) storages; credentials are only needed when either location is on S3."""
    uses_s3 = any(u and u.startswith("s3://") for u in (cfg.storage.uri, cfg.storage.results_uri))
    creds = credentials_for(cfg.storage.conn_id) if uses_s3 else None
    return open_storages(cfg.storage.uri, cfg.storage.results_uri, creds)
