"""The daily report's content, rendered from typed day results: verdict and first action, ranked breaches, drift
figures, metrics over days with realized beside estimated, label coverage, a quality table without meaningless
bounds."""

import re
from datetime import date, timedelta

import numpy as np
import pytest
from watchkeeper.reports.daily import coverage, metric_series, render
from watchkeeper.reports.distributions import anonymized, categorical, numeric
from watchkeeper.result import (
    Action,
    Check,
    DayResult,
    Estimate,
    NotMeasured,
    Realized,
    Severity,
    StageSummary,
)

DAY = date(2026, 2, 10)


def _check(id_: str, subject: str, value: float | None, status: str = "ok", **kw) -> Check:
    stage, name = id_.split(".", 1)
    return Check(id=id_, stage=stage, name=name, subject=subject, value=value, status=status,
                 owner="data" if stage == "quality" else "model", **kw)  # fmt: skip


def _day(day: date, auc: float, alert: bool = False, realized: list[Realized] | None = None) -> DayResult:
    checks = [
        _check(
            "performance.estimated_roc_auc",
            "estimated_roc_auc",
            auc,
            "alert" if alert else "ok",
            lower=0.8,
            details={"estimated": True, "band_lower": auc - 0.02, "band_upper": auc + 0.02},
        )  # fmt: skip
    ]
    return DayResult(
        model="m",
        task="binary_classification",
        day=day,
        rows=1000,
        status="alert" if alert else "ok",
        stages=[StageSummary(stage="performance", status="alert" if alert else "ok", warnings=int(alert))],
        checks=checks,
        actions=[],
        estimates=[
            Estimate(metric="roc_auc", value=auc, band_lower=auc - 0.02, band_upper=auc + 0.02, lower=0.8)
        ],
        realized=realized or [],
        headline=f"m {day}",
    )


def _realized(pday: date, as_of: date, auc: float, coverage: float) -> Realized:
    return Realized(prediction_day=pday, as_of=as_of, labelled=int(1000 * coverage), predictions=1000,
                    coverage=coverage, provisional=coverage < 0.5, metrics={"roc_auc": auc})  # fmt: skip


def _today() -> DayResult:
    r = _day(DAY, 0.78, alert=True, realized=[_realized(DAY - timedelta(days=1), DAY, 0.7, 0.4)])
    r.checks += [
        _check("drift.ks", "income", 0.30, "alert", upper=0.10, severity=Severity.WARNING, details={"role": "feature"}),
        _check("drift.ks", "age", 0.12, "alert", upper=0.10, severity=Severity.WARNING, details={"role": "feature"}),
        _check("drift.ks", "score", 0.11, "alert", upper=0.10, severity=Severity.CRITICAL),
        _check("quality.finite_values", "income", 0.0, lower=-1.797e308, upper=1.797e308),
        _check("quality.expect_table_row_count_to_be_between", "table", 1000, lower=500, upper=4000),
        _check("quality.expect_column_values_to_not_be_null", "region", 12.3456, "alert",
               severity=Severity.CRITICAL, details={"unexpected_percent": 12.345678}, reason="nulls in region"),
        _check("drift.psi", "city", None, "skipped", not_measured=NotMeasured.MISSING_COLUMN),
    ]  # fmt: skip
    r.status = "alert"
    r.actions = [
        Action(kind="notify", owner="model", reason="drift in income", severity=Severity.WARNING),
        Action(kind="notify", owner="data", reason="nulls in region", severity=Severity.CRITICAL),
    ]
    r.top_drifted_features = ["income", "age"]
    rng = np.random.default_rng(0)
    r.distributions = [
        numeric("income", np.sort(rng.normal(0, 1, 2000)), np.sort(rng.normal(1, 1, 500))),
        categorical("region", {"north": 0.5, "south": 0.5}, {"north": 400, "south": 80, "east": 20}, 2000),
    ]
    return r


def _history() -> list[DayResult]:
    out = []
    for i in range(1, 10):
        day = DAY - timedelta(days=i)
        rec = [_realized(day - timedelta(days=1), day, 0.82 + i / 1000, 0.95)]
        out.append(_day(day, 0.83, alert=i == 3, realized=rec))
    return out


def test_the_page_leads_with_the_verdict_and_the_most_urgent_action():
    html = render(_today(), _history(), "Default risk model")
    head = html[: html.index("Breached checks")]
    assert "CRITICAL ALERT" in head  # the day's worst severity
    do_first = re.search(r"Do first:</b>(.*?)</p>", head).group(1)
    assert "data" in do_first and "nulls in region" in do_first  # the critical action comes first
    assert "Default risk model" in html


def test_breaches_are_ordered_by_severity_then_by_how_far_past_their_bound():
    html = render(_today(), [], "")
    table = html[html.index("Breached checks") : html.index("</table>", html.index("Breached checks"))]
    order = re.findall(r"<td>(income|age|score|region)</td>", table)
    # critical first: region's failed expectation has no numeric bound (unquantified: first), then score;
    # then warnings, income 200 % past its bound before age 20 %
    assert order == ["region", "score", "income", "age"]
    assert "200 % past" in table and "20 % past" in table


def test_drifted_features_and_metrics_are_drawn_as_inline_svg():
    html = render(_today(), _history(), "")
    assert html.count("<svg") == 3  # income and region distributions, roc_auc over days
    assert "<script" not in html and "<link" not in html  # nothing to fetch, nothing to run
    assert not re.search(r"(src|href)=.(https?:|//)", html)
    assert "income · ks 0.3 &gt; 0.1" in html or "income · ks 0.3 > 0.1" in html


def test_quality_table_rounds_numbers_and_hides_meaningless_bounds():
    html = render(_today(), [], "")
    quality = html[html.index("Data quality") :]
    assert "1.797e+308" not in quality and "1.797e308" not in quality
    assert "12.35 %" in quality and "12.3456" not in quality
    assert "500 – 4000" in quality
    assert re.search(r"<details><summary>2 passed</summary>", quality)


def test_metric_series_puts_realized_beside_estimated_and_marks_alert_days():
    results = [*_history(), _today()]
    (s,) = metric_series(results, DAY, window=14)
    assert s.metric == "roc_auc"
    assert s.days[-1] == DAY and len(s.days) == 14
    assert s.estimated[-1] == 0.78 and s.band_lower[-1] == 0.76 and s.lower[-1] == 0.8
    assert s.alerts == {DAY, DAY - timedelta(days=3)}
    assert s.realized[DAY - timedelta(days=1)] == 0.7  # measured today, for yesterday's predictions
    assert DAY - timedelta(days=1) in s.provisional  # 40 % coverage
    assert s.realized[DAY - timedelta(days=2)] == 0.821


def test_label_coverage_lists_each_prediction_day_once_with_its_latest_count():
    rows = coverage([*_history(), _today()])
    assert [r.prediction_day for r in rows][:2] == [DAY - timedelta(days=1), DAY - timedelta(days=2)]
    assert len({r.prediction_day for r in rows}) == len(rows)
    html = render(_today(), _history(), "")
    assert "40.0 %" in html and "provisional" in html


def test_an_ok_day_says_there_is_nothing_to_do():
    html = render(_day(DAY, 0.9), [], "")
    assert "OK" in html[:2000] and "Nothing to do" in html
    assert "Breached checks</h2><p>None." in html


def test_a_skipped_check_is_counted_by_its_typed_reason():
    html = render(_today(), [], "")
    assert "missing column: 1 check(s)" in html


def test_numeric_distribution_shares_sum_to_one_and_follow_the_shift():
    rng = np.random.default_rng(1)
    d = numeric("x", np.sort(rng.normal(0, 1, 5000)), np.sort(rng.normal(2, 1, 5000)))
    assert len(d.edges) == len(d.reference) + 1 == len(d.today) + 1
    assert sum(d.reference) == pytest.approx(1, abs=1e-3)
    centers = (np.array(d.edges[1:]) + np.array(d.edges[:-1])) / 2
    assert np.dot(centers, d.today) - np.dot(centers, d.reference) == pytest.approx(2, abs=0.15)


def test_categorical_distribution_pools_rare_categories_as_other():
    ref = {f"c{i}": 1 / 20 for i in range(20)}
    d = categorical("c", ref, {"c0": 50, "new": 50}, 1000)
    assert d.labels[-1] == "(other)" and len(d.labels) == 13
    assert d.labels[0] in ("c0", "new") and abs(sum(d.today) - 1) < 1e-6


def test_the_same_result_gives_the_same_page():
    """Re-running a day replaces its report with identical bytes (no clock, fixed SVG ids)."""
    assert render(_today(), _history(), "d") == render(_today(), _history(), "d")


def test_anonymized_categories_keep_the_bars_but_not_the_names():
    ref = {"alice": 0.6, "bob": 0.4}
    d = anonymized(categorical("name", ref, {"alice": 10, "carol": 10}, 100), ref)
    assert set(d.labels) == {"category 1", "category 2", "new category 3"}
    assert sorted(d.today) == [0.0, 0.5, 0.5]
