"""Data quality on Great Expectations: suites from reference (`suite`), validation into checks (`validate`).

`gxload.gx()` is the one place that imports GX, with its loggers silenced.
"""
