"""Connection arguments for an Airflow SQLite metadata database (the demo's), named by `watchkeeper backfill`.

A scheduler writes to SQLite all the time; SQLite's default 5 s busy timeout made `airflow backfill create
--reprocess-behavior completed` fail with `database is locked` beside it. Waiting longer for the lock is enough.
"""

CONNECT_ARGS = {"timeout": 120}
"""sqlite3's busy timeout in seconds, passed by Airflow as `[database] sql_alchemy_connect_args`."""
