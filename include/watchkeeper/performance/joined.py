"""Late labels joined to their prediction days once, incrementally: the day's labels step, read by label drift and
performance alike.

`update_labels(cfg, storage, results, day)` reads only the label file that arrived on `day`, finds each label's
prediction (day, row) by joining ids as Arrow values of one type (hash join in `pyarrow.compute.index_in`), and
stores that arrival's contribution per prediction day (row, target, conflicted) as an arrival object of that day
(`label_state`), with a summary at `days/<day>/labels/step.json`. `known(cfg, results, P, as_of)` is the prediction
day's labels as of `as_of`, read from one consolidated object and the few fresh arrivals beside it, checked against
the arrivals listed: the latest arrival wins, an id with different values in that arrival stays unscored.
Re-running a day replaces its own contributions, and a day only ever reads arrivals up to itself, so re-runs and
backfills in any order give the same results. Each prediction day's columns the metrics need are kept compact at
`days/<P>/labels/predictions.arrow`, so earlier days' prediction files are not re-read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from watchkeeper.config import ModelConfig
from watchkeeper.loading import InputError, day_key, label_key, read_table
from watchkeeper.performance import label_state
from watchkeeper.performance.id_lookup import IdLookup, hashed_ids, is_text
from watchkeeper.result import Check, Severity, Status
from watchkeeper.storage import ObjectNotFound, Storage

ROW, TARGET, CONFLICT = "row", "target", "conflicted"
# Beside string ids in a prediction day's compact copy: their hash, for the label days that reach the day. Its name
# carries `string_hash`'s version: a copy hashed otherwise lacks the column and is hashed on use, never misjoined.
ID_HASH = "__watchkeeper_id_hash_1__"
# Beside a classifier's finite scores: each row's dense rank among the day's scores, for order-only metrics.
SCORE_RANK = "__watchkeeper_score_rank__"
DERIVED = (ID_HASH, SCORE_RANK)
"""Columns the compact copy adds to the day's own; a copy written before them lacks them (read without)."""


def prediction_columns(cfg: ModelConfig) -> list[str]:
    cols = cfg.columns
    return list(dict.fromkeys(c for c in (cols.id, cols.score, cols.prediction, *cfg.segments.columns) if c))


def predictions_key(cfg: ModelConfig, pday: date) -> str:
    return cfg.results_key(pday, "labels/predictions.arrow")


def parquet_predictions_key(cfg: ModelConfig, pday: date) -> str:
    """Where copies written before the Arrow IPC one were kept (Parquet): still read, never written."""
    return cfg.results_key(pday, "labels/predictions.parquet")


def step_key(cfg: ModelConfig, day: date) -> str:
    return cfg.results_key(day, "labels/step.json")


def _write_predictions(cfg: ModelConfig, results: Storage, key: str, table: pa.Table) -> pa.Table:
    """The compact copy, whole or absent for a reader (a backfill's days read each other's prediction days while
    they are refreshed), as an Arrow IPC file (`label_state.put_arrow`): each label day reaching the prediction day
    reads it twice (its ids to join, its scores to re-score), and a memory-mapped IPC file is read without decoding
    (~0.3 ms against Parquet's ~8 ms for 1M rows' score, prediction and rank), only the pages of those columns."""
    ids = table.column(cfg.columns.id)
    if is_text(ids.type):
        table = table.append_column(ID_HASH, hashed_ids(ids))
    rank = _score_rank(cfg, table)
    if rank is not None:
        table = table.append_column(SCORE_RANK, rank)
    # No schema metadata from the source: a source file's pandas metadata names every column it had, pii included.
    label_state.put_arrow(results, key, table.replace_schema_metadata(None))
    return table


def _score_rank(cfg: ModelConfig, table: pa.Table) -> pa.Array | None:
    """A classifier's scores as dense ranks (equal scores, equal rank; int32), when every score is a finite number:
    one sort of the day, once, where each re-scoring of the day would sort its labelled scores again."""
    score = cfg.columns.score
    if cfg.task != "binary_classification" or not score or score not in table.column_names:
        return None
    column = table.column(score)
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)) or column.null_count:
        return None
    values = column.to_numpy()
    if not np.isfinite(values).all():
        return None
    # `np.unique(values, return_inverse=True)[1]` in int32, without its 64-bit index arrays (~2x its CPU).
    order = np.argsort(values)
    ranked = values[order]
    dense = np.zeros(values.size, dtype=np.int32)
    np.cumsum(ranked[1:] != ranked[:-1], out=dense[1:])
    rank = np.empty_like(dense)
    rank[order] = dense
    return pa.array(rank)


def _read_table(results: Storage, key: str, parquet_key: str, columns: list[str] | None = None) -> pa.Table:
    """The stored copy's `columns`; the `DERIVED` ones only where stored (ids of an older copy are hashed on use,
    and its scores sorted). A copy kept as Parquet before the IPC one is read where no IPC copy exists."""
    try:
        source = results.open_mapped(key)
    except ObjectNotFound:
        stored = pq.ParquetFile(results.open_file(parquet_key))
        return stored.read(columns=_present(columns, stored.schema_arrow.names))
    # Every column read, then selected: mapped, that copies nothing, where `included_fields` copied (~20x slower).
    table = ipc.open_file(source).read_all()
    wanted = _present(columns, table.column_names)
    return table if wanted is None else table.select(wanted)


def _present(columns: list[str] | None, names: list[str]) -> list[str] | None:
    return None if columns is None else [c for c in columns if c not in DERIVED or c in names]


def predictions(
    cfg: ModelConfig,
    storage: Storage,
    results: Storage,
    pday: date,
    refresh: bool,
    columns: list[str] | None = None,
) -> pa.Table | None:
    """The prediction day's id, score, prediction and segment columns (compact copy; None if it never arrived),
    or only `columns` of them.

    `refresh` re-copies from the source (the day being processed may have been re-delivered)."""
    key = predictions_key(cfg, pday)
    if not refresh:
        try:
            return _read_table(results, key, parquet_predictions_key(cfg, pday), columns)
        except ObjectNotFound:
            pass
    try:
        table = read_table(storage, day_key(cfg, pday), cfg.paths.csv, prediction_columns(cfg))
    except InputError:
        return None
    table = _write_predictions(cfg, results, key, table)
    return table if columns is None else table.select(_present(columns, table.column_names))


@dataclass(frozen=True)
class IdTypes:
    """The label and prediction id types when they differ, and how many label ids could not be converted."""

    labels: str
    predictions: str
    unconverted: int


def _common_ids(label_ids: pa.ChunkedArray, pred_type: pa.DataType) -> tuple[pa.Array, IdTypes | None]:
    """Label ids as the predictions' id type: integers, floats holding integers and digit strings convert to
    integers; anything to strings; what cannot convert becomes null (and is counted)."""
    ids = label_ids.combine_chunks() if isinstance(label_ids, pa.ChunkedArray) else label_ids
    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(ids.type.value_type)
    kind = _kind(ids.type)
    if kind == _kind(pred_type):
        return ids.cast(_canonical(pred_type)), None
    if _kind(pred_type) == "string":
        if kind == "float":  # 12.0 → "12", as the prediction ids are written
            as_int = _integral(ids)
            converted = pc.if_else(pc.is_null(as_int), ids.cast(pa.string()), as_int.cast(pa.string()))
        else:
            converted = ids.cast(pa.string())
    elif kind == "float":
        converted = _integral(ids)
    else:  # strings (or anything else) to integers
        converted = _int_or_null(ids.cast(pa.string()))
    lost = int(pc.sum(pc.and_(pc.is_null(converted), pc.is_valid(ids))).as_py() or 0)
    return converted.cast(_canonical(pred_type)), IdTypes(str(ids.type), str(pred_type), lost)


def _kind(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    return str(t)


def _canonical(t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return {"int": pa.int64(), "string": pa.string(), "float": pa.float64()}.get(_kind(t), t)


def _integral(ids: pa.Array) -> pa.Array:
    x = ids.to_numpy(zero_copy_only=False).astype(float)
    ok = np.isfinite(x) & (np.floor(x) == x)
    return pa.array(np.where(ok, x, 0).astype(np.int64), mask=~ok)


def _int_or_null(text: pa.Array) -> pa.Array:
    digits = pc.match_substring_regex(text, r"^\s*[+-]?\d{1,18}\s*$")
    kept = pc.if_else(digits, pc.utf8_trim_whitespace(text), pa.scalar(None, pa.string()))
    return kept.cast(pa.int64())


@dataclass
class Arrival:
    """What the label file of one day brought: facts for the label checks, and the prediction days it touched."""

    facts: dict
    prediction_days: list[date]
    unknown: int
    id_types: IdTypes | None = None

    def to_json(self) -> dict:
        types = self.id_types.__dict__ if self.id_types else None
        days = [d.isoformat() for d in self.prediction_days]
        return {"facts": self.facts, "prediction_days": days, "unknown": self.unknown, "id_types": types}

    @classmethod
    def from_json(cls, doc: dict) -> Arrival:
        types = IdTypes(**doc["id_types"]) if doc.get("id_types") else None
        days = [date.fromisoformat(d) for d in doc["prediction_days"]]
        return cls(doc["facts"], days, doc["unknown"], types)


def label_values(cfg: ModelConfig, target: pa.Array) -> np.ndarray:
    """Label values as the metrics read them: 0/1 for classifiers (positive label → 1), floats for regressors;
    NaN for a missing label."""
    missing = target.is_null().to_numpy(zero_copy_only=False) if target.null_count else None
    if cfg.task == "binary_classification":
        positive = str(cfg.columns.positive_label)
        number = int(positive) if positive.lstrip("-").isdigit() and len(positive) < 19 else None
        if pa.types.is_integer(target.type) and number is not None and str(number) == positive:
            # An integer written out is the positive label's text exactly when it equals that number.
            y = pc.fill_null(pc.equal(target, pa.scalar(number)), False)
        else:
            text = pc.fill_null(target.cast(pa.string()), "")
            y = pc.equal(text, pa.scalar(positive))
        y = y.to_numpy(zero_copy_only=False).astype(float)
        return y if missing is None else np.where(missing, np.nan, y)
    y = pc.cast(target, pa.float64(), safe=False) if not pa.types.is_string(target.type) else None
    if y is None:
        import pandas as pd

        return pd.to_numeric(pd.Series(target.to_pylist()), errors="coerce").to_numpy(dtype=float)
    y = y.to_numpy(zero_copy_only=False)
    return y if missing is None else np.where(missing, np.nan, y)


def _mapped(cfg: ModelConfig, storage: Storage, target: pa.Array) -> tuple[pa.Array, int]:
    """Labels as target values (`columns.label_values` applied) and how many were rejected: a value outside the
    mapping, a classifier's value its reference target never takes, a regressor's non-number. Rejected values
    become missing (not scored)."""
    if pa.types.is_dictionary(target.type):
        target = target.cast(target.type.value_type)
    text = target.cast(pa.string())
    mapping = cfg.columns.label_values
    if mapping:
        keys = pa.array(list(mapping), pa.string())
        mapped = pa.array(list(mapping.values())).take(pc.index_in(text, value_set=keys))
    elif cfg.task == "binary_classification":
        ref = read_table(storage, cfg.paths.reference, cfg.paths.csv, [cfg.columns.target]).column(0)
        classes = pc.unique(ref.combine_chunks().cast(pa.string())).drop_null()
        known = pc.fill_null(pc.is_in(text, value_set=classes), False)
        mapped = pc.if_else(known, target, pa.nulls(len(target), target.type))
    else:
        return target, int(
            np.sum(np.isnan(label_values(cfg, target)) & target.is_valid().to_numpy(zero_copy_only=False))
        )
    rejected = pc.and_(pc.is_null(mapped), pc.is_valid(target))
    return mapped, int(pc.sum(rejected).as_py() or 0)


def label_value_checks(arrival: Arrival) -> list[Check]:
    """A named check when labels arrived with values that are not target values (rejected, not scored)."""
    rejected = arrival.facts.get("unknown_label_values", 0)
    if not rejected:
        return []
    return [
        Check(
            id="performance.label_values",
            stage="performance",
            name="label_values",
            subject="labels",
            value=float(rejected),
            upper=0.0,
            threshold_rule="label values must be target values (map others with columns.label_values)",
            status=Status.ALERT,
            reason=f"{rejected} label(s) have a value that is not a target value (map them with "
            "columns.label_values); they are not scored",
            severity=Severity.WARNING,
            owner="data",
            details={"unknown_label_values": rejected},
        )
    ]


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def update_labels(cfg: ModelConfig, storage: Storage, results: Storage, day: date) -> Arrival:
    """Join today's label file to the window's prediction days and store its contributions (replacing a re-run's).

    Earlier days of the window whose labels step never ran (monitoring started mid-way, a failed day) are caught
    up first, oldest first, so the labels known as of today do not depend on which days were run."""
    for offset in range(cfg.performance.label_window_days, 0, -1):
        earlier = day - timedelta(days=offset)
        if not results.exists(step_key(cfg, earlier)):
            _update_one(cfg, storage, results, earlier)
    return _update_one(cfg, storage, results, day)


def _update_one(cfg: ModelConfig, storage: Storage, results: Storage, day: date) -> Arrival:
    key = step_key(cfg, day)
    earlier = results.read_json_if_any(key)
    # Replaces its own earlier arrival on the prediction days it reaches.
    arrival = _join_today(cfg, storage, results, day)
    if earlier is not None:
        # A re-run takes back its earlier contributions to prediction days today's file no longer reaches, after
        # the new ones are written: a day judged meanwhile (a backfill re-running neighbouring days at once)
        # reads this label day's old arrival or its new one, never neither.
        for pday in set(Arrival.from_json(earlier).prediction_days) - set(arrival.prediction_days):
            label_state.delete_arrivals(results, label_state.listed(cfg, results, pday), day)
    # Whole or absent for a reader: a backfill's later day may catch this one up while it runs.
    results.write_json_atomic(key, {**arrival.to_json(), "label_file": _fingerprint(cfg, storage, day)})
    return arrival


def arrival_of(cfg: ModelConfig, storage: Storage, results: Storage, day: date) -> Arrival:
    """The day's labels step, as stored (run now when it has not been)."""
    doc = results.read_json_if_any(step_key(cfg, day))
    if doc is not None and doc.get("label_file") == _fingerprint(cfg, storage, day):
        return Arrival.from_json(doc)
    return update_labels(cfg, storage, results, day)


def _fingerprint(cfg: ModelConfig, storage: Storage, day: date) -> list | None:
    """(size, modification time) of the day's label file: a re-delivered file is joined again."""
    key = label_key(cfg, day)
    if key is None:
        return None
    info = storage.fs.get_file_info(storage.path(key))
    if info.type.name == "NotFound":
        return None
    return [info.size, info.mtime_ns]


def _join_today(cfg: ModelConfig, storage: Storage, results: Storage, day: date) -> Arrival:
    id_col, target = cfg.columns.id, cfg.columns.target
    lkey = label_key(cfg, day)
    try:
        labels = read_table(storage, lkey, cfg.paths.csv, [id_col, target]) if lkey else None
    except InputError as exc:
        if exc.kind not in ("not_arrived", "empty"):
            raise
        labels = None
    if labels is None or id_col not in labels.column_names or target not in labels.column_names:
        return Arrival({"label_rows_today": 0}, [], 0)
    values, unknown_values = _mapped(cfg, storage, labels.column(target).combine_chunks())
    codes = label_values(cfg, values)
    raw_ids = labels.column(id_col)
    n = labels.num_rows
    # Per label row its prediction day as days before today (-1: none yet; 16 bits for a window under 89 years)
    # and its row in that day.
    window = cfg.performance.label_window_days + 1
    found_day = np.full(n, -1, dtype=np.int16 if window < 2**15 else np.int32)
    found_row = np.full(n, -1, dtype=np.int64)
    as_type: dict[pa.DataType, tuple[IdLookup, IdTypes | None]] = {}
    id_types = None
    touched = []
    for offset in range(window):  # newest first: most labels are recent
        pday = day - timedelta(days=offset)
        # Every label found: older days are not read (today's own predictions are still refreshed).
        if offset and not (found_row < 0).any():
            break
        preds = predictions(cfg, storage, results, pday, refresh=offset == 0, columns=[id_col, ID_HASH])
        if preds is None:
            continue
        pred_type = _canonical(preds.schema.field(id_col).type)
        if pred_type not in as_type:  # days may differ in id type: convert (and hash) once per type
            ids, types = _common_ids(raw_ids, pred_type)
            as_type[pred_type] = IdLookup(ids), types
        lookup, types = as_type[pred_type]
        pred_ids = preds.column(id_col).combine_chunks()
        hashes = preds.column(ID_HASH).combine_chunks() if ID_HASH in preds.column_names else None
        rows_hit, pos = lookup.find(pred_ids.cast(_canonical(pred_ids.type)), found_row < 0, hashes)
        if not rows_hit.size:
            continue
        found_row[rows_hit] = pos
        found_day[rows_hit] = offset
        touched.append(pday)
        id_types = id_types or types
    id_codes = _id_codes(raw_ids, as_type)
    facts = {"label_rows_today": n, **_file_counts(id_codes, codes), "resent_same_value": 0}
    facts["changed_from_earlier_arrival"] = 0
    first_rows = _first_rows(id_codes)  # each id's first row today
    # Per prediction day (days before today) its label rows, and its ids' first rows, each in order: one pass.
    rows_of, firsts_of = _by_day(found_day, window), _by_day(found_day[first_rows], window)
    for pday in touched:
        sel = rows_of[(day - pday).days]
        # Against each id's latest earlier arrival; the prediction day's labels so far, read once.
        earlier, held, objects = label_state.combine(cfg, results, pday, day - timedelta(days=1), store=False)
        today_first = first_rows[firsts_of[(day - pday).days]]
        same, changed = _against(cfg, earlier, found_row[today_first], codes[today_first])
        facts["resent_same_value"] += same
        facts["changed_from_earlier_arrival"] += changed
        others = [o for o in objects if o.arrived != day]
        # Rows no earlier arrival labelled (the usual late label): readers may take it beside the cache.
        fresh = not same and not changed and all(o.arrived < day for o in others)
        fresh_after = label_state.against_digest(o.ident for o in others) if fresh else None
        rows, vals = found_row[sel], codes[sel]
        # One entry per labelled row: its last value in this file, conflicted when the file gives it two values.
        order = np.lexsort((sel, rows))
        rows_o, vals_o, sel_o = rows[order], vals[order], sel[order]
        first = np.r_[True, rows_o[1:] != rows_o[:-1]]
        last = np.r_[rows_o[1:] != rows_o[:-1], True]
        group = np.cumsum(first) - 1
        distinct = np.r_[True, (rows_o[1:] != rows_o[:-1]) | ~_same(vals_o[1:], vals_o[:-1])]
        conflicted = np.bincount(group, weights=distinct & ~first) > 0
        table = pa.table(
            {ROW: pa.array(rows_o[last]), TARGET: values.take(pa.array(sel_o[last])), CONFLICT: conflicted}
        )
        new = label_state.write_arrival(cfg, results, pday, day, table, fresh_after)
        label_state.delete_arrivals(results, objects, day, keep=new)  # an unfinished earlier run's
        label_state.record(cfg, results, pday, held, objects, new, table, fresh_after)
    facts["unknown_label_values"] = unknown_values
    unknown = _distinct(id_codes) - _distinct(id_codes[found_row >= 0])
    return Arrival(facts, sorted(touched), unknown, id_types)


def _by_day(days: np.ndarray, window: int) -> list[np.ndarray]:
    """For each day 0..window-1 (`days`: small ints, -1 none), the positions holding it, ascending: one stable sort
    of 16-bit keys (a radix sort), where a comparison per day of the window passed over every label row."""
    order = np.argsort(days, kind="stable")
    bounds = np.cumsum(np.bincount(days + 1, minlength=window + 1))
    return [order[bounds[d] : bounds[d + 1]] for d in range(window)]


def known(cfg: ModelConfig, results: Storage, pday: date, as_of: date) -> pa.Table:
    """The prediction day's settled labels as of `as_of`: (row, target), each row once, each chunk sorted by row."""
    latest = label_state.combine(cfg, results, pday, as_of)[0]
    if not latest.num_rows:
        return latest
    # A missing or rejected value is no label; a conflicted id waits for a later arrival.
    if not latest.column(TARGET).null_count and not pc.any(latest.column(CONFLICT)).as_py():
        return latest.select([ROW, TARGET])  # every entry settled (the usual case): no copy
    settled = latest.filter(pc.and_(pc.invert(latest.column(CONFLICT)), pc.is_valid(latest.column(TARGET))))
    return settled.select([ROW, TARGET]) if settled.num_rows else settled


def _id_codes(
    raw_ids: pa.ChunkedArray, as_type: dict[pa.DataType, tuple[IdLookup, IdTypes | None]]
) -> np.ndarray:
    """Integer codes of the label ids (equal ids, equal codes, dense from 0; a missing id -1): the join's own codes
    when it found the ids as they came, without a conversion (`IdLookup.codes`; ~0.2-0.3 s at 1M ids)."""
    if len(as_type) == 1:
        lookup, types = next(iter(as_type.values()))
        if types is None and (codes := lookup.codes()) is not None:
            return codes
    encoded = pc.dictionary_encode(raw_ids.combine_chunks())
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return np.where(encoded.indices.is_null().to_numpy(zero_copy_only=False), -1, codes)


def _distinct(codes: np.ndarray) -> int:
    """How many distinct codes (`_id_codes`: dense from -1): one count, where `np.unique` hashes or sorts."""
    return int(np.count_nonzero(np.bincount(codes + 1))) if codes.size else 0


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Each distinct code's first row, in code order (as `np.unique(codes, return_index=True)[1]`), without a sort."""
    first = np.full(int(codes.max(initial=-1)) + 2, codes.size, dtype=np.int64)
    np.minimum.at(first, codes + 1, np.arange(codes.size))
    return first[first < codes.size]


def _file_counts(id_codes: np.ndarray, values: np.ndarray) -> dict[str, int]:
    """Counts of today's repeated ids and of ids given different values within today's file (a missing id, code
    -1, counted as one id; NaN as one value). Only the rows of repeated ids are sorted, none in the usual file: a
    sort of the whole file cost ~0.13 s at 1M labels whose ids are not in order."""
    per_code = np.bincount(id_codes + 1)
    duplicates = int(id_codes.size - np.count_nonzero(per_code))
    if not duplicates:
        return {"duplicate_label_ids_today": 0, "conflicting_ids_in_file": 0}
    repeated = per_code[id_codes + 1] > 1
    ic, vc = id_codes[repeated], np.nan_to_num(values[repeated], nan=-np.inf)
    order = np.lexsort((vc, ic))
    ic, vo = ic[order], vc[order]
    new_id = np.r_[True, ic[1:] != ic[:-1]]
    new_val = new_id | np.r_[True, vo[1:] != vo[:-1]]
    per_id_values = np.bincount(np.cumsum(new_id) - 1, weights=new_val)
    return {
        "duplicate_label_ids_today": duplicates,
        "conflicting_ids_in_file": int((per_id_values > 1).sum()),
    }


def _against(
    cfg: ModelConfig, earlier: pa.Table, rows_today: np.ndarray, values: np.ndarray
) -> tuple[int, int]:
    """(resent with the same value, changed) for today's first label of each id against its prediction day's
    latest earlier arrival."""
    if not earlier.num_rows:
        return 0, 0
    was_known = np.zeros(len(rows_today), dtype=bool)
    eq = np.zeros(len(rows_today), dtype=bool)
    for part in earlier.to_batches():  # each sorted by row, every row in one only (`label_state.combine`)
        rows = part.column(ROW).to_numpy()
        if not rows.size:
            continue
        pos = np.minimum(np.searchsorted(rows, rows_today), len(rows) - 1)
        hit = rows[pos] == rows_today
        if hit.any():
            before = label_values(cfg, part.column(TARGET).take(pa.array(pos[hit])))
            eq[hit] = _same(before, values[hit])
            was_known |= hit
    return int((was_known & eq).sum()), int((was_known & ~eq).sum())


def id_type_checks(arrival: Arrival) -> list[Check]:
    """A named check when label ids and prediction ids are of different types (matched after conversion)."""
    t = arrival.id_types
    if t is None:
        return []
    reason = f"label ids are {t.labels} but prediction ids are {t.predictions}: joined after conversion"
    if t.unconverted:
        reason += f"; {t.unconverted} label id(s) could not be converted and match no prediction"
    return [
        Check(
            id="performance.label_id_type",
            stage="performance",
            name="label_id_type",
            subject="labels",
            value=float(t.unconverted),
            upper=0.0,
            threshold_rule="label ids must have the prediction ids' type",
            status=Status.ALERT,
            reason=reason,
            severity=Severity.WARNING,
            owner="data",
            details={
                "label_id_type": t.labels,
                "prediction_id_type": t.predictions,
                "unconverted": t.unconverted,
            },
        )
    ]
