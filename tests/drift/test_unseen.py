"""Unseen categories: news on the first day they appear, whatever their share; values never quoted unless safe."""

import numpy as np
import pandas as pd
from watchkeeper.config import parse_config
from watchkeeper.drift.day import DayColumns
from watchkeeper.drift.detection_profile import fit_detection
from watchkeeper.drift.unseen import unseen_checks
from watchkeeper.policy import signal_of
from watchkeeper.reference import Monitored, infer_kind
from watchkeeper.result import Signal

CFG = parse_config(
    {
        "name": "m",
        "task": "binary_classification",
        "storage": {"uri": "/tmp/x"},
        "paths": {"reference": "ref.csv", "predictions": "p/{ds}.csv"},
        "columns": {"id": "id", "features": ["plan", "n"], "prediction": "pred", "target": "y"},
        "owners": {"data": {"name": "d"}, "model": {"name": "m"}},
    }
)
rng = np.random.default_rng(0)
REF = pd.DataFrame(
    {"plan": rng.choice(["basic", "gold", "pro"], 5000), "user": [f"u{i}" for i in range(5000)]}
)
CHUNKS = [np.arange(5000) // 500 == i for i in range(10)]
DETECTION = fit_detection(
    CFG,
    REF,
    [Monitored("plan", "categorical", "feature"), Monitored("user", "categorical", "feature")],
    CHUNKS,
    [],
    1,
    {},
)


def _day(plan: list[str]) -> DayColumns:
    return DayColumns.from_pandas(pd.DataFrame({"plan": plan, "user": [f"new{i}" for i in range(len(plan))]}))


def test_a_new_category_in_half_a_percent_of_rows_alerts_the_data_owner_on_its_first_day_only():
    plan = ["basic"] * 995 + ["platinum-secret"] * 5
    checks, prints = unseen_checks(CFG, _day(plan), DETECTION, lambda i: {})
    plan_check = next(c for c in checks if c.subject == "plan")
    assert plan_check.status == "alert" and plan_check.owner == "data"
    assert (
        signal_of(plan_check) == Signal.QUALITY_CRITICAL
    )  # notified by default, not only with notify_warnings
    assert plan_check.details["new_values"] == 1 and plan_check.details["new_shares"] == [0.005]
    assert "0.50% of rows" in plan_check.reason and "not marked safe to show" in plan_check.reason
    assert "platinum" not in plan_check.model_dump_json()  # the raw value is never in the result
    assert all("platinum" not in p for p in prints["plan"])
    # The next day: the same value again is not news; a second new value is.
    again, _ = unseen_checks(CFG, _day(plan), DETECTION, lambda i: {"unseen": prints} if i == 1 else {})
    assert next(c for c in again if c.subject == "plan").status == "ok"
    other = ["basic"] * 999 + ["diamond"]
    third, _ = unseen_checks(CFG, _day(other), DETECTION, lambda i: {"unseen": prints})
    assert next(c for c in third if c.subject == "plan").details["new_values"] == 1


def test_known_values_are_ok_and_an_open_ended_column_reports_without_alerting():
    assert DETECTION["open_ended"] == {"plan": 0, "user": 10}
    checks, _ = unseen_checks(CFG, _day(["gold"] * 100), DETECTION, lambda i: {})
    by = {c.subject: c for c in checks}
    assert by["plan"].status == "ok" and by["plan"].value == 0
    assert by["user"].status == "ok" and by["user"].details["new_values"] == 100
    assert "open-ended" in by["user"].reason


def test_a_blocked_day_and_a_missing_column_say_why():
    checks, _ = unseen_checks(CFG, _day(["gold"]), DETECTION, lambda i: {}, blocked="bad data")
    assert {c.not_measured for c in checks} == {"upstream_quality"}
    day = DayColumns.from_pandas(pd.DataFrame({"user": ["u1"]}))
    checks, _ = unseen_checks(CFG, day, DETECTION, lambda i: {})
    assert next(c for c in checks if c.subject == "plan").not_measured == "missing_column"


def test_integer_columns_with_few_values_are_categorical_like():
    assert infer_kind(pd.Series(rng.poisson(0.6, 1000))) == "categorical"
    assert infer_kind(pd.Series(rng.integers(0, 10_000, 1000))) == "numeric"
    assert infer_kind(pd.Series(rng.normal(size=100))) == "numeric"


def test_a_count_column_has_no_categories_to_be_new_unless_declared_categorical():
    ref = REF.assign(
        n=rng.poisson(1.2, 5000)
    )  # an integer feature monitored as categorical for its few values
    monitored = [Monitored("plan", "categorical", "feature"), Monitored("n", "categorical", "feature")]
    inferred = fit_detection(CFG, ref, monitored, CHUNKS, [], 1, {})
    assert set(inferred["categories"]) == {
        "plan"
    }  # a count past its reference range is a tail value, not news
    declared = parse_config(  # integer codes the user calls categories
        CFG.model_dump(mode="json", exclude_none=True)
        | {
            "columns": {
                "id": "id",
                "features": ["plan", {"name": "n", "kind": "categorical"}],
                "prediction": "pred",
                "target": "y",
            }
        }  # fmt: skip
    )
    assert set(fit_detection(declared, ref, monitored, CHUNKS, [], 1, {})["categories"]) == {"plan", "n"}
