"""Re-judge stored drift and performance checks under a candidate model YAML's thresholds, for `watchkeeper preview`.

A stored profile keeps, for every learned bound, the statistic's values on the reference chunks and on day-size
reference samples (`chunk_values`, `boot_values`). `BOUNDS_OF` names, per kind of check, where its entry lives and
how the stage turns it into bounds (`reference._combined_bounds`, then `label_bounds` or `bounds_for_rows` as the
stage does); `rejudge_day` re-derives each check's bounds under the candidate, re-judges the stored value and applies
the candidate's `drift.persistence`. Checks without reference values (quality, label records, unseen categories,
CUSUM, not measured) keep their stored verdict. `config_changes` says what the candidate changes, and which of its
changes cannot be re-judged from stored data (methods, columns, reference, ...), for the preview to refuse.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

from watchkeeper.config import ModelConfig
from watchkeeper.drift.stage import apply_persistence
from watchkeeper.history import model_key
from watchkeeper.performance.metrics import get_metric
from watchkeeper.policy import DaySignals, day_signals
from watchkeeper.reference import (
    PROFILE_VERSION,
    Monitored,
    _combined_bounds,
    bounds_for_rows,
    drift_family,
    drift_threshold,
    label_bounds,
    label_family,
    realized_family,
    state_key,
)
from watchkeeper.result import Check, DayResult, Status, num
from watchkeeper.storage import Storage

REJUDGED = ("drift.threshold", "drift.features.*.threshold", "drift.family_wise", "drift.persistence",
            "performance.threshold", "policy")  # fmt: skip
"""Settings a candidate may change: the preview re-judges the stored days under them."""
IGNORED = ("storage", "airflow", "model", "description", "start_date")
"""Settings the preview does not compare: the stored days are read from the current configuration's storage, and
scheduling, retraining and the registered model do not judge a day."""


def _flat(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _covered(path: str, patterns: tuple[str, ...]) -> bool:
    parts = path.split(".")
    for pattern in patterns:
        want = pattern.split(".")
        if len(parts) >= len(want) and all(w in ("*", p) for w, p in zip(want, parts, strict=False)):
            return True
    return False


def _shown(v: object) -> str:
    if v is None:
        return "(unset)"
    if isinstance(v, float):
        return f"{v:g}"
    text = str(v)
    return text if len(text) <= 60 else text[:57] + "..."


def config_changes(current: ModelConfig, candidate: ModelConfig) -> tuple[list[str], list[str]]:
    """(`path old → new` for every setting the candidate changes, the changed paths the preview cannot re-judge)."""
    a = _flat(current.model_dump(mode="json", exclude={"source"}))
    b = _flat(candidate.model_dump(mode="json", exclude={"source"}))
    changed, refused = [], []
    for path in sorted(set(a) | set(b)):
        old, new = a.get(path), b.get(path)
        if old == new or _covered(path, IGNORED):
            continue
        changed.append(f"{path} {_shown(old)} → {_shown(new)}")
        if not _covered(path, REJUDGED):
            refused.append(path)
    return changed, refused


@dataclass(frozen=True)
class Judge:
    """What bounds are re-derived with: the configuration (current or candidate) and the stored profile."""

    cfg: ModelConfig
    profile: dict

    @cached_property
    def family(self) -> int:
        monitored = [Monitored(c["column"], c["kind"], c["role"]) for c in self.profile["columns"]]
        tracked: dict[str, list[str]] = {}
        for seg in (self.profile.get("segments") or {}).values():
            tracked.setdefault(seg["column"], []).append(seg["value"])
        return drift_family(self.cfg, monitored, tracked)

    def derive(self, entry: dict, spec, direction: str, nonnegative: bool, family: int = 1) -> dict | None:
        if "boot_values" not in entry:
            return None
        return _combined_bounds(
            spec, entry.get("chunk_values", []), entry["boot_values"], direction,
            self.cfg.reference.min_chunks, nonnegative, family,
        )  # fmt: skip


def _column_drift(j: Judge, c: Check) -> dict | None:
    table = (
        (j.profile.get("segments", {}).get(c.segment) or {}).get("drift", {})
        if c.segment
        else j.profile["drift"]
    )
    entry = table.get(state_key(c.subject, c.name))
    return {} if not entry else j.derive(entry, drift_threshold(j.cfg, c.subject), "upper", True, j.family)


def _multivariate(j: Judge, c: Check) -> dict | None:
    entry = j.profile.get("multivariate")
    return {} if not entry else j.derive(entry, j.cfg.drift.threshold, "both", True, j.family)


def _domain(j: Judge, c: Check) -> dict | None:
    entry = (j.profile.get("detection") or {}).get("domain_classifier")
    return {} if not entry else j.derive(entry, j.cfg.drift.threshold, "upper", False, j.family)


def _label(j: Judge, c: Check) -> dict | None:
    labels = j.profile.get("labels") or {}
    target = labels.get("column", j.cfg.columns.target)
    entry = (labels.get("drift") or {}).get(state_key(target, c.name))
    spec = drift_threshold(j.cfg, target)
    if not entry:
        return {}
    derived = j.derive(entry, spec, "upper", True, label_family(j.cfg))
    if derived is None:
        return None
    summary = j.profile["_drift_state"]["label#summary"]
    return label_bounds(j.cfg, c.name, derived, summary, labels["kind"], int(c.details["rows"]))


def _segment_entry(j: Judge, c: Check, group: str) -> tuple[dict | None, int | None]:
    column, value = c.segment.split("=", 1)
    seg = ((j.profile.get("segment_performance") or {}).get(column) or {}).get(value) or {}
    return (seg.get(group) or {}).get(c.name.removeprefix("estimated_")), seg.get("sample_rows")


def _realized(j: Judge, c: Check) -> dict | None:
    if c.segment:
        entry, sample_rows = _segment_entry(j, c, "metrics")
        rows = c.details.get("segment_labelled")
    else:
        entry, sample_rows = j.profile.get("performance", {}).get(c.name), j.profile.get("sample_rows")
        rows = c.details.get("labelled")
    direction = get_metric(c.name, j.cfg.task).direction
    if not entry or rows is None:
        return {}
    derived = j.derive(entry, j.cfg.performance.threshold, direction, False)
    if derived is None:
        return None
    family = realized_family(j.cfg, int(c.details.get("label_days", 1)))
    return bounds_for_rows(j.cfg, derived, int(rows), sample_rows, direction, family)


def _estimated(j: Judge, c: Check) -> dict | None:
    name = c.name.removeprefix("estimated_")
    if c.segment:
        entry, _ = _segment_entry(j, c, "estimated")
    else:
        entry = ((j.profile.get("estimation") or {}).get("metrics") or {}).get(name)
    direction = get_metric(name, j.cfg.task).direction
    return {} if not entry else j.derive(entry, j.cfg.performance.threshold, direction, False)


BOUNDS_OF: dict[str, Callable[[Judge, Check], dict | None]] = {
    "drift.column": _column_drift,
    "drift.multivariate": _multivariate,
    "drift.domain": _domain,
    "drift.label": _label,
    "performance.realized": _realized,
    "performance.estimated": _estimated,
}
"""Kind of check → its bounds re-derived under `Judge.cfg` (None: the profile holds no reference values for it)."""

PERSISTENT = ("drift.column", "drift.multivariate", "drift.label")
"""Kinds the drift stage applies `drift.persistence` to (the detection checks are appended after it)."""


def kind_of(c: Check) -> str | None:
    """Which `BOUNDS_OF` entry re-derives a check's bounds (None: its verdict is kept as stored)."""
    if c.stage == "drift":
        if c.name == "domain_classifier":
            return "drift.domain"
        if c.name == "pca_reconstruction_error":
            return "drift.multivariate"
        role = c.details.get("role")
        if role == "label":
            return "drift.label"
        if role in ("feature", "prediction"):
            return "drift.column"
        return None
    if c.stage == "performance" and c.owner == "model":
        if c.details.get("estimated"):
            return "performance.estimated"
        if "prediction_day" in c.details and "labelled" in c.details:
            return "performance.realized"
    return None


def _raw(c: Check) -> Check:
    """The check before persistence: a breach held back (`details.breached`) is an alert again."""
    out = c.model_copy(deep=True)
    if out.details.pop("breached", None) and out.status == Status.OK:
        out.status = Status.ALERT
    out.details.pop("breaches", None)
    if out.reason and "; not alerting:" in out.reason:
        out.reason = out.reason.split("; not alerting:", 1)[0]
    return out


def rejudge_check(j: Judge, c: Check) -> tuple[Check, bool]:
    """The check re-judged under `j` (persistence not applied), and whether its bounds could be re-derived."""
    out = _raw(c)
    kind = kind_of(c)
    if kind is None or c.value is None or c.status == Status.SKIPPED:
        return out, kind is None or c.status == Status.SKIPPED
    bounds = BOUNDS_OF[kind](j, c)
    if bounds is None:
        return out, False
    out.lower, out.upper, out.threshold_rule = (
        bounds.get("lower"),
        bounds.get("upper"),
        bounds.get("rule", ""),
    )
    where = f" in segment {c.segment}" if c.segment else ""
    out.judge(
        c.value, f"{c.subject}{where}: {c.name} {c.value:.4g} outside [{num(out.lower)}, {num(out.upper)}]"
    )
    if out.status == Status.OK:
        out.reason = None
    return out, True


def rejudge_days(
    j: Judge, days: dict[date, list[Check]], kept: dict[date, list[Check]] | None = None
) -> tuple[dict[date, list[Check]], int]:
    """Every day's checks re-judged under `j`, `drift.persistence` applied over the calendar days before each (as
    the drift stage reads them, `kept`: stored days not re-judged); and how many measured checks had no reference
    values to re-judge from."""
    raw: dict[date, list[Check]] = {}
    missing = 0
    for day, checks in sorted(days.items()):
        out = []
        for c in checks:
            new, ok = rejudge_check(j, c)
            missing += not ok
            out.append(new)
        raw[day] = out
    rule = j.cfg.drift.persistence
    if rule.breaches <= 1:
        return raw, missing
    for day, checks in sorted(raw.items()):
        history = [
            [
                c
                for c in raw.get(day - timedelta(days=i)) or (kept or {}).get(day - timedelta(days=i), [])
                if kind_of(c) in PERSISTENT
            ]
            for i in range(1, rule.days)
        ]
        apply_persistence([c for c in checks if kind_of(c) in PERSISTENT], rule.breaches, history)
    return raw, missing


def differences(stored: dict[date, list[Check]], again: dict[date, list[Check]]) -> list[str]:
    """Checks whose verdict or bounds differ between the stored days and their re-judging (under the config they
    were judged with, there should be none)."""
    out = []
    for day, checks in sorted(stored.items()):
        for a, b in zip(checks, again[day], strict=True):
            same = a.status == b.status and all(
                (x is None and y is None)
                or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9))
                for x, y in ((a.lower, b.lower), (a.upper, b.upper))
            )
            if not same:
                out.append(
                    f"{day} {a.id}:{a.subject}{'/' + a.segment if a.segment else ''} stored {a.status} "
                    f"[{num(a.lower)}, {num(a.upper)}], re-derived {b.status} [{num(b.lower)}, {num(b.upper)}]"
                )
    return out


class CannotPreview(Exception):
    """The stored days cannot be re-judged under the candidate; the message says why in one line."""


def stored_results(cfg: ModelConfig, results: Storage) -> dict[date, DayResult]:
    """Every stored day's `result.json`."""
    out = {}
    for key in results.list(model_key(cfg, "days")):
        if key.endswith("/result.json"):
            result = DayResult.model_validate(results.read_json(key))
            out[result.day] = result
    return out


def _profiles(cfg: ModelConfig, storage: Storage, results: Storage):
    """Stored profiles of this configuration (the current reference's first), else one built from the reference
    in memory (nothing is written)."""
    from watchkeeper.reference import build_profile, load_reference, profile_key
    from watchkeeper.safe_cache import read_profile

    prefix = f"profile-v{PROFILE_VERSION}-{cfg.digest()}-"
    keys = [k for k in results.list(model_key(cfg, "reference")) if k.rsplit("/", 1)[-1].startswith(prefix)]
    keys = [k for k in keys if k.endswith(".json")]
    try:
        current = profile_key(cfg, storage)
    except Exception:  # noqa: BLE001 - the reference may be gone; the stored profiles still are
        current = None
    for key in sorted(keys, key=lambda k: k != current):
        profile = read_profile(results, key)
        if profile is not None:
            yield key, profile
    if not keys:
        yield "built from the reference (not stored)", build_profile(cfg, load_reference(cfg, storage))


def rejudged_signals(
    cfg: ModelConfig, candidate: ModelConfig, storage: Storage, results: Storage, start: date, end: date
) -> tuple[list[DaySignals], dict]:
    """Every stored day's signals with its drift and performance checks re-judged under `candidate`, and what
    was done (profile, checks re-judged, verdicts changed). Raises `CannotPreview` when the stored days cannot be
    re-judged faithfully: no stored profile reproduces every stored bound and verdict of the window's days under
    the current configuration (e.g. a day judged with other thresholds)."""
    stored = stored_results(cfg, results)
    # Days in the window are re-judged whatever digest they carry: a new Watchkeeper release adds settings (and so
    # changes the digest) without changing a bound; the reproduction check below is what guarantees the judging
    # is the stored one. Days outside the window judged otherwise stay as stored (persistence history).
    mine = {d: r.checks for d, r in stored.items() if r.config_digest == cfg.digest() or start <= d <= end}
    kept = {d: r.checks for d, r in stored.items() if d not in mine}
    found = None
    problems: list[str] = []
    for key, profile in _profiles(cfg, storage, results):
        again, missing = rejudge_days(Judge(cfg, profile), mine, kept)
        problems = differences(mine, again)
        if not problems and not missing:
            found = key, profile
            break
        if missing:
            problems = [f"{missing} measured check(s) have no reference values in profile {key}"]
    if found is None:
        raise CannotPreview(
            "the stored reference profile does not reproduce the stored verdicts under the current configuration, "
            f"so a re-judging would be wrong: {problems[0] if problems else 'no profile found'}"
        )
    key, profile = found
    judged, _ = rejudge_days(Judge(candidate, profile), mine, kept)
    flips = {"alert→ok": 0, "ok→alert": 0}
    for day, checks in mine.items():
        for a, b in zip(checks, judged[day], strict=True):
            if a.status != b.status and Status.SKIPPED not in (a.status, b.status):
                flips[f"{a.status}→{b.status}"] += 1
    days = [
        day_signals(stored[d].model_copy(update={"checks": judged[d]}) if d in judged else stored[d])
        for d in sorted(stored)
    ]
    rejudged = sum(kind_of(c) is not None and c.status != Status.SKIPPED for cs in mine.values() for c in cs)
    return days, {"profile": key, "days": len(mine), "checks_rejudged": rejudged, **flips}
