"""The one place Great Expectations is imported: its loggers are quietened first, so task logs stay readable.

GX takes ~7 s to import, so callers import it lazily through `gx()`.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType

_NOISY = (
    "great_expectations",
    "great_expectations.core",
    "great_expectations.datasource",
    "great_expectations._docs_decorators",
)


def gx() -> ModuleType:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    import great_expectations

    return great_expectations
