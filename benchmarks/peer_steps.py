"""Steps shared by the peer workers (`day_peers.py`, `drift_peers.py`), which run under each peer's own interpreter.

Only the standard library is imported at the top; the peers' packages are imported by the caller and passed in.
"""

from __future__ import annotations

import resource


def usage() -> dict:
    """This process's CPU seconds (imports included) and peak RSS."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": u.ru_utime + u.ru_stime,
        "peak_rss_mb": u.ru_maxrss / 1024,
    }  # ru_maxrss: KiB on Linux


def nannyml_drift(nml, spec: dict):
    """NannyML's UnivariateDriftCalculator with our statistics where it has them; the day is one chunk."""
    return nml.UnivariateDriftCalculator(
        column_names=spec["numeric"] + spec["categorical"],
        treat_as_categorical=spec["categorical"],
        continuous_methods=["kolmogorov_smirnov", "wasserstein", "jensen_shannon"],
        categorical_methods=["jensen_shannon", "l_infinity"],
        chunk_number=1,
    )
