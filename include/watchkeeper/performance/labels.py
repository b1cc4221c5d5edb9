"""Label records: reading the label files of a window, which value counts, and named outcomes of repeated labels.

A label file for day D may hold labels for predictions of D or any earlier day of the window. A prediction id
labelled again keeps the latest arrival's value (a resend is a correction); an id with different values inside one
file is left unscored until a later file settles it. `label_record_checks` names duplicates and conflicts.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from watchkeeper.config import ModelConfig
from watchkeeper.loading import InputError, label_key, read_table
from watchkeeper.reference import labels_of
from watchkeeper.result import Check, Severity, Status
from watchkeeper.storage import Storage


def _labels(cfg: ModelConfig, storage: Storage, day: date) -> pd.DataFrame | None:
    key = label_key(cfg, day)
    if key is None:
        return None
    try:
        table = read_table(storage, key, cfg.paths.csv, columns=[cfg.columns.id, cfg.columns.target])
    except InputError as exc:
        if exc.kind in ("not_arrived", "empty"):
            return None
        raise
    return table.to_pandas()


def known_labels(cfg: ModelConfig, storage: Storage, day: date) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(labels arriving today, all labels known as of today within the window, label-file facts).

    Which value counts when a prediction id is labelled more than once: the latest arrival wins (a resend is a
    correction). When one file holds different values for the same id, that id is left unscored until a later
    arrival settles it: there is no telling which row is right.
    """
    window = cfg.performance.label_window_days
    id_col, target = cfg.columns.id, cfg.columns.target
    frames = []
    for offset in range(window, -1, -1):
        df = _labels(cfg, storage, day - timedelta(days=offset))
        if df is not None:
            df = df.assign(**{id_col: df[id_col].astype(str), _VALUE: labels_of(cfg, df), _FILE: -offset})
            frames.append(df)
    empty = pd.DataFrame({id_col: pd.Series(dtype=str), target: pd.Series(dtype=float)})
    if not frames:
        return empty, empty, {"label_rows_today": 0}
    every = pd.concat(frames, ignore_index=True)
    today = every[every[_FILE] == 0]
    facts = {"label_rows_today": len(today), **label_outcomes(every, id_col)}
    latest = every[every[_FILE] == every.groupby(id_col)[_FILE].transform("max")]
    settled = latest.groupby(id_col)[_VALUE].transform("nunique", dropna=False) <= 1
    known = latest[settled].drop_duplicates(subset=[id_col], keep="last")
    return today[[id_col, target]], known[[id_col, target]], facts


_VALUE, _FILE = "__label_value", "__label_file"


def label_outcomes(every: pd.DataFrame, id_col: str) -> dict[str, int]:
    """Counts of today's repeated and conflicting labels (`every`: all arrivals of the window, today's `_FILE` 0)."""
    today = every[every[_FILE] == 0]
    earlier = every[every[_FILE] < 0].drop_duplicates(subset=[id_col], keep="last").set_index(id_col)[_VALUE]
    values_in_file = today.groupby(id_col)[_VALUE].nunique(dropna=False)
    repeated_in_file = int(today[id_col].duplicated().sum())
    firsts = today.drop_duplicates(subset=[id_col])
    before = firsts[id_col].map(earlier)
    was_known = firsts[id_col].isin(earlier.index).to_numpy()
    same = (before.to_numpy() == firsts[_VALUE].to_numpy()) | (
        before.isna() & firsts[_VALUE].isna()
    ).to_numpy()
    return {
        "duplicate_label_ids_today": repeated_in_file,
        "conflicting_ids_in_file": int((values_in_file > 1).sum()),
        "resent_same_value": int((was_known & same).sum()),
        "changed_from_earlier_arrival": int((was_known & ~same).sum()),
    }


def label_record_checks(facts: dict) -> list[Check]:
    """Named outcomes of today's repeated labels: harmless duplicates (counted) and conflicts (data owner alerted)."""
    repeated = facts["duplicate_label_ids_today"] + facts["resent_same_value"]
    in_file, changed = facts["conflicting_ids_in_file"], facts["changed_from_earlier_arrival"]
    duplicates = Check(
        id="performance.label_duplicates",
        stage="performance",
        name="label_duplicates",
        subject="labels",
        value=float(repeated),
        threshold_rule="repeated labels with the same value are harmless: counted, not alerted",
        status=Status.OK,
        severity=Severity.INFO,
        owner="data",
        details={k: facts[k] for k in ("duplicate_label_ids_today", "resent_same_value")},
    )
    parts = []
    if changed:
        parts.append(
            f"{changed} prediction id(s) got a different label than an earlier arrival (the latest wins)"
        )
    if in_file:
        parts.append(
            f"{in_file} id(s) have different labels within today's file (left unscored until settled)"
        )
    conflicts = Check(
        id="performance.label_conflicts",
        stage="performance",
        name="label_conflicts",
        subject="labels",
        value=float(in_file + changed),
        upper=0.0,
        threshold_rule="a prediction id must keep one label",
        status=Status.ALERT if parts else Status.OK,
        reason="; ".join(parts) or None,
        severity=Severity.WARNING,
        owner="data",
        details={"conflicting_ids_in_file": in_file, "changed_from_earlier_arrival": changed},
    )
    return [duplicates, conflicts]
