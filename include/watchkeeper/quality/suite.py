"""Great Expectations suites for a model: generated from its reference data, stored as reviewable JSON.

GX 1.x has no profiler, so `build_suite` derives expectations and tolerances from the reference chunks; the JSON is
written in a stable order under `expectations/<model>/<suite>.json` for a person to review and commit.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from watchkeeper.config import ModelConfig
from watchkeeper.quality.gxload import gx
from watchkeeper.reference import chunks, monitored_columns

# Default severity per expectation type: critical ones make the day's drift/performance "could not measure".
DEFAULT_SEVERITY = {
    "expect_column_to_exist": "critical",
    "expect_column_values_to_be_unique": "critical",
    "expect_column_values_to_not_be_null": "critical",
    "expect_column_proportion_of_non_null_values_to_be_between": "critical",
    "expect_column_values_to_be_in_type_list": "critical",
    "expect_column_values_to_be_between": "warning",
    "expect_column_values_to_be_in_set": "warning",
    "expect_table_row_count_to_be_between": "warning",
    "finite_values": "critical",
    "timestamps_in_day": "critical",
    "duplicate_rows": "warning",
}
FLOAT_MAX = sys.float_info.max
# GX matches pandas' nullable dtypes (Int64, Float64, ...) by their class names, not their aliases.
NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "Int8", "Int16", "Int32", "Int64", "float32", "float64", "Float32", "Float64", "uint8", "uint16", "uint32", "uint64",
                 "Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype", "UInt16Dtype", "UInt32Dtype", "UInt64Dtype", "Float32Dtype", "Float64Dtype"]  # fmt: skip


def _null_floor(ref_col_chunks: list[pd.Series]) -> float:
    """Lowest acceptable non-null share: the worst reference chunk, less a sampling margin."""
    rates = [float(c.isna().mean()) for c in ref_col_chunks if len(c)]
    worst, n = max(rates), float(np.median([len(c) for c in ref_col_chunks]))
    p = max(worst, 1.0 / n)
    tolerance = worst + 4 * math.sqrt(p * (1 - p) / n) + 0.005
    return round(max(0.0, 1.0 - tolerance), 4)


def _expectation_dicts(cfg: ModelConfig, ref: pd.DataFrame) -> list[dict]:
    cols, parts = cfg.columns, chunks(cfg, ref)
    out: list[dict] = []

    def add(kind: str, **kwargs: object) -> None:
        out.append({"type": kind, "kwargs": kwargs})

    rows = [len(p) for p in parts]
    add("expect_table_row_count_to_be_between", min_value=int(min(rows) * 0.5), max_value=int(max(rows) * 2))
    add("expect_column_to_exist", column=cols.id)
    add("expect_column_values_to_not_be_null", column=cols.id)
    add("expect_column_values_to_be_unique", column=cols.id)
    # Whole-row repeats (a re-delivered batch) read differently from colliding ids; over the day's own columns.
    own = [cols.id, cols.timestamp, *(f.name for f in cols.features), cols.score, cols.prediction]
    add("expect_compound_columns_to_be_unique", column_list=[c for c in own if c and c in ref])
    out[-1]["meta"] = {"watchkeeper_check": "duplicate_rows"}
    # Extra or missing columns by name, as a day's file carries them (the target arrives in label files).
    add(
        "expect_table_columns_to_match_set",
        column_set=[c for c in ref.columns if c != cols.target],
        exact_match=True,
    )
    if cols.timestamp and cols.timestamp in ref and pd.api.types.is_datetime64_any_dtype(ref[cols.timestamp]):
        # Freshness: events belong to the run's day; the bounds are suite parameters filled in at run time.
        add(
            "expect_column_values_to_be_between",
            column=cols.timestamp,
            min_value={"$PARAMETER": "day_start"},
            max_value={"$PARAMETER": "day_end"},
            strict_max=True,
            mostly=cfg.quality.timestamps_in_day_mostly,
        )
        out[-1]["meta"] = {"watchkeeper_check": "timestamps_in_day"}
    for m in monitored_columns(cfg, ref):
        add("expect_column_to_exist", column=m.column)
        floor = _null_floor([p[m.column] for p in parts])
        if floor >= 1.0:
            add("expect_column_values_to_not_be_null", column=m.column)
        else:
            add("expect_column_proportion_of_non_null_values_to_be_between", column=m.column, min_value=floor)
        if m.kind == "numeric":
            add("expect_column_values_to_be_in_type_list", column=m.column, type_list=NUMERIC_TYPES)
            # ±inf passes null checks and poisons every statistic: its own critical check, at the float limits.
            add(
                "expect_column_values_to_be_between",
                column=m.column,
                min_value=-FLOAT_MAX,
                max_value=FLOAT_MAX,
            )
            out[-1]["meta"] = {"watchkeeper_check": "finite_values"}
            series = pd.to_numeric(ref[m.column], errors="coerce")
            series = series[np.isfinite(series)]
            lo, hi = float(series.min()), float(series.max())
            if m.column == cols.score and cfg.task == "binary_classification":
                add("expect_column_values_to_be_between", column=m.column, min_value=0.0, max_value=1.0)
            else:
                margin = 0.1 * (hi - lo)
                add(
                    "expect_column_values_to_be_between",
                    column=m.column,
                    min_value=round(lo - margin, 6),
                    max_value=round(hi + margin, 6),
                    mostly=0.99,
                )
        else:
            # Native values (bools, ints, strings), as GX compares them with the day's raw values.
            cats = sorted(pd.Series(ref[m.column].dropna().unique()).tolist(), key=str)
            add("expect_column_values_to_be_in_set", column=m.column, value_set=cats, mostly=0.99)
    for e in out:
        kind = e.get("meta", {}).get("watchkeeper_check", e["type"])
        e["severity"] = cfg.quality.severity.get(kind, DEFAULT_SEVERITY.get(kind, "warning"))
        e["meta"] = {**e.get("meta", {}), "generated_by": "watchkeeper suggest-expectations"}
    return out


def build_suite_dict(cfg: ModelConfig, ref: pd.DataFrame) -> dict:
    """The suite as a JSON-ready dict in a stable order (GX's own format)."""
    return {
        "name": f"{cfg.name}.{cfg.quality.suite}",
        "expectations": _expectation_dicts(cfg, ref),
        "meta": {"great_expectations_version": gx().__version__, "model": cfg.name},
        "notes": "Generated from the reference data; review and commit. Severity: critical | warning.",
    }


def suite_path(cfg: ModelConfig) -> Path:
    """Where the model's suite lives: `expectations_dir` found upward from the config file (or absolute)."""
    rel = Path(cfg.quality.expectations_dir) / cfg.name / f"{cfg.quality.suite}.json"
    if rel.is_absolute():
        return rel
    start = Path(cfg.source).resolve().parent if cfg.source and cfg.source != "<memory>" else Path.cwd()
    for base in [start, *start.parents]:
        if (base / cfg.quality.expectations_dir).is_dir():
            return base / rel
    return Path.cwd() / rel


def load_suite_dict(cfg: ModelConfig, reference: Callable[[], pd.DataFrame]) -> tuple[dict, str]:
    """The committed suite, or one generated in memory from the reference (read only then) when none is committed."""
    path = suite_path(cfg)
    if path.is_file():
        return json.loads(path.read_text()), str(path)
    return build_suite_dict(cfg, reference()), "generated from reference (no committed suite)"


def to_json(suite: dict) -> str:
    return json.dumps(suite, indent=2, sort_keys=False) + "\n"
