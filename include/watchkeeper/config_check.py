"""The configuration checked against the data: every configured column, method, metric and setting that the
reference (and a committed quality suite) cannot honour is named, so nothing is silently left unmonitored.

`check(cfg, reference, suite)` returns the problems as sentences; `validate-config` prints them and the first run
(the profile build) refuses to judge a day with them (`ConfigError`).
"""

from __future__ import annotations

import difflib
import math
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from watchkeeper.config import ConfigError, ModelConfig


def configured_columns(cfg: ModelConfig) -> dict[str, str]:
    """Each column the configuration names, with the field that names it."""
    c = cfg.columns
    out: dict[str, str] = {}
    for field, name in (("id", c.id), ("timestamp", c.timestamp), ("score", c.score),
                        ("prediction", c.prediction), ("target", c.target)):  # fmt: skip
        if name:
            out[name] = f"columns.{field}"
    for f in c.features:
        out.setdefault(f.name, "columns.features")
    for name in cfg.segments.columns:
        out.setdefault(name, "segments.columns")
    for name in cfg.drift.features:
        out.setdefault(name, "drift.features")
    # `columns.pii` is not checked: those columns are dropped as soon as any file is read, by design.
    for name in c.show_values:
        out.setdefault(name, "columns.show_values")
    return out


def _missing(name: str, field: str, present: list[str], where: str) -> str:
    near = difflib.get_close_matches(name, present, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"{field}: column {name!r} is not in the {where}{hint}"


def _registries(cfg: ModelConfig, ref: pd.DataFrame | None) -> list[str]:
    from watchkeeper.drift.methods import REGISTRY as DRIFT
    from watchkeeper.performance.metrics import REGISTRY as METRICS
    from watchkeeper.reference import infer_kind

    problems = []
    lists = {"drift.numeric_methods": ("numeric", cfg.drift.numeric_methods),
             "drift.categorical_methods": ("categorical", cfg.drift.categorical_methods)}  # fmt: skip
    kinds = {f.name: f.kind for f in cfg.columns.features}
    for name, fd in cfg.drift.features.items():
        kind = kinds.get(name) or (infer_kind(ref[name]) if ref is not None and name in ref else None)
        if fd.methods and kind:
            lists[f"drift.features.{name}.methods"] = (kind, fd.methods)
    for field, (kind, methods) in lists.items():
        valid = sorted(n for n, k in DRIFT if k == kind)
        for m in methods:
            if (m, kind) not in DRIFT:
                problems.append(f"{field}: unknown {kind} drift method {m!r}; valid: {', '.join(valid)}")
    valid = sorted(n for n, t in METRICS if t == cfg.task)
    for m in cfg.performance.metrics or []:
        if (m, cfg.task) not in METRICS:
            problems.append(
                f"performance.metrics: unknown {cfg.task} metric {m!r}; valid: {', '.join(valid)}"
            )
    return problems


def _settings(cfg: ModelConfig) -> list[str]:
    problems = []
    specs = {"drift.threshold": cfg.drift.threshold, "performance.threshold": cfg.performance.threshold}
    specs |= {
        f"drift.features.{n}.threshold": f.threshold for n, f in cfg.drift.features.items() if f.threshold
    }
    for field, spec in specs.items():
        k = getattr(spec, "k", None)
        if k is not None and not (math.isfinite(k) and k > 0):
            problems.append(f"{field}.k: must be a finite number above 0, got {k}")
    try:
        ZoneInfo(cfg.airflow.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            f"airflow.timezone: {cfg.airflow.timezone!r} is not a known time zone (e.g. Europe/Paris)"
        )
    if cfg.reference.chunk_rows is not None and cfg.reference.chunk_rows < 1:
        problems.append(f"reference.chunk_rows: must be at least 1, got {cfg.reference.chunk_rows}")
    if cfg.reference.min_chunks < 2:
        problems.append(
            f"reference.min_chunks: must be at least 2 to learn a spread, got {cfg.reference.min_chunks}"
        )
    if cfg.drift.min_rows < 1:
        problems.append(f"drift.min_rows: must be at least 1, got {cfg.drift.min_rows}")
    return problems


def _against_reference(cfg: ModelConfig, ref: pd.DataFrame) -> list[str]:
    problems = []
    present = [str(c) for c in ref.columns]
    for name, field in configured_columns(cfg).items():
        if name not in ref.columns:
            problems.append(_missing(name, field, present, "reference"))
    c = cfg.columns
    if c.target in ref.columns and cfg.task == "binary_classification":
        values = ref[c.target].dropna().unique().tolist()
        if str(c.positive_label) not in {str(v) for v in values}:
            shown = ", ".join(repr(v) for v in sorted(values, key=str)[:5])
            problems.append(
                f"columns.positive_label: {c.positive_label!r} is not a value of the target {c.target!r} "
                f"in the reference (it takes {shown})"
            )
    if c.score and c.score in ref.columns and pd.api.types.is_numeric_dtype(ref[c.score]):
        lo, hi = float(ref[c.score].min()), float(ref[c.score].max())
        t = cfg.performance.decision_threshold
        if not lo <= t <= hi:
            problems.append(
                f"performance.decision_threshold: {t:g} is outside the reference scores' range "
                f"[{lo:.4g}, {hi:.4g}] of {c.score!r}: every prediction would be one class"
            )
    if cfg.reference.chunk_rows is not None and not c.timestamp and cfg.reference.chunk_rows > len(ref):
        problems.append(
            f"reference.chunk_rows: {cfg.reference.chunk_rows} is more than the reference's {len(ref)} rows"
        )
    return problems


def _against_suite(cfg: ModelConfig, suite: dict, ref: pd.DataFrame | None) -> list[str]:
    from watchkeeper.quality.fast import suite_columns

    named = suite_columns(suite)
    problems = []
    if ref is not None:
        present = [str(x) for x in ref.columns]
        for name in sorted(named - set(present)):
            problems.append(_missing(name, f"quality suite {suite.get('name', '')}", present, "reference"))
    skip = {cfg.columns.target}  # labels are checked where they are joined, not in the day's records
    for name, field in configured_columns(cfg).items():
        if name not in named and name not in skip:
            problems.append(
                f"{field}: column {name!r} has no expectation in the quality suite {suite.get('name')!r}"
            )
    return problems


def check(cfg: ModelConfig, reference: pd.DataFrame | None = None, suite: dict | None = None) -> list[str]:
    """Every problem of the configuration against the registries, its settings, the reference and the suite."""
    problems = _registries(cfg, reference) + _settings(cfg)
    if reference is not None:
        problems += _against_reference(cfg, reference)
    if suite is not None:
        problems += _against_suite(cfg, suite, reference)
    return problems


def committed_suite(cfg: ModelConfig) -> dict | None:
    """The committed quality suite, when there is one (a generated one follows the reference by construction)."""
    import json

    from watchkeeper.quality.suite import suite_path

    path = suite_path(cfg)
    return json.loads(path.read_text()) if path.exists() else None


def require(cfg: ModelConfig, reference: pd.DataFrame) -> None:
    """Raise ConfigError naming every problem (the first run refuses to judge a day with them)."""
    problems = check(cfg, reference, committed_suite(cfg))
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"{cfg.source or cfg.name}: configuration does not match the data:\n{lines}")
