"""A range or set expectation failed by most of a column is critical; a tail beyond the reference stays a warning."""

from watchkeeper.quality.escalation import escalate
from watchkeeper.result import Check, Severity, Status


def failed(name: str, pct: float, severity: Severity = Severity.WARNING) -> Check:
    return Check(id=f"quality.{name}", stage="quality", name=name, subject="x", status=Status.ALERT,
                 severity=severity, owner="data", reason="'x' has values outside the range",
                 details={"unexpected_percent": pct})  # fmt: skip


def test_most_of_a_column_out_of_range_is_critical_with_the_reason():
    [c] = escalate([failed("expect_column_values_to_be_between", 99.9)], 0.5)
    assert c.severity == Severity.CRITICAL
    assert c.reason.startswith(
        "'x' has values outside the range: most of the column left the reference's range"
    )
    [c] = escalate([failed("expect_column_values_to_be_in_set", 60.0)], 0.5)
    assert c.severity == Severity.CRITICAL and "reference's values" in c.reason


def test_tails_other_checks_and_the_switch_leave_severity_alone():
    tail = failed("expect_column_values_to_be_between", 3.0)
    assert escalate([tail], 0.5) == [tail]
    other = failed("expect_table_row_count_to_be_between", 100.0)
    assert escalate([other], 0.5) == [other]
    assert (
        escalate([failed("expect_column_values_to_be_between", 99.0)], None)[0].severity == Severity.WARNING
    )
    ok = failed("expect_column_values_to_be_between", 99.0).model_copy(update={"status": Status.OK})
    assert escalate([ok], 0.5) == [ok]
