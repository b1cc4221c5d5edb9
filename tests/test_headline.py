"""The day's one-line headline (run name, run note, message) says which stage breached and what in it."""

from watchkeeper.decisions import headline
from watchkeeper.result import Check, StageSummary


def check(stage: str, name: str, subject: str, severity: str, status: str = "alert") -> Check:
    owner = "data" if stage == "quality" else "model"
    return Check(id=f"{stage}.{name}", stage=stage, name=name, subject=subject, status=status, severity=severity,
                 owner=owner)  # fmt: skip


def test_the_headline_names_what_breached_critical_first_columns_for_quality_metrics_for_performance():
    checks = [
        check("performance", "accuracy", "accuracy@2026-02-09", "warning"),
        *(
            check("performance", m, f"{m}@2026-02-09", "critical")
            for m in ("precision", "f1", "recall", "roc_auc")
        ),
        check("performance", "mae", "mae@2026-02-09", "critical", status="ok"),
        check("quality", "expect_column_proportion_of_non_null_values_to_be_between", "income", "critical"),
    ]
    stages = [StageSummary(stage="quality", status="alert", alerts=1),
              StageSummary(stage="performance", status="alert", alerts=4, warnings=1)]  # fmt: skip
    assert headline("m", "2026-02-12", stages, [], 4000, checks) == (
        "m 2026-02-12: quality: 1 alert(s) (income); performance: 4 alert(s), 1 warning(s) (precision, f1, recall, …)"
    )


def test_drift_keeps_its_ranked_features_and_a_healthy_day_its_row_count():
    stages = [
        StageSummary(stage="drift", status="alert", alerts=2),
        StageSummary(stage="quality", status="ok"),
    ]
    assert headline("m", "d", stages, ["x1", "c"], 10) == "m d: drift in x1, c"
    assert (
        headline("m", "d", [StageSummary(stage="drift", status="ok")], [], 10)
        == "m d: all checks ok on 10 predictions"
    )
