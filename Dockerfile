# Airflow 3 image with Watchkeeper's engine and locked dependencies, used by docker-compose.yml.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/watchkeeper/
COPY --chown=airflow:root include /opt/watchkeeper/include
RUN pip install --no-cache-dir uv \
 && cd /opt/watchkeeper \
 && uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps /opt/watchkeeper
