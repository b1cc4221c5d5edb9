"""The model owner's one message per verdict (numbers, holdout and shadow intervals, how to promote) and per champion
move (what moved, why, how to undo it): pure Block Kit builders."""

from helpers import tiny_config
from watchkeeper.retraining.announce import champion_message
from watchkeeper.retraining.evaluate import Verdict
from watchkeeper.retraining.promote import proposal_message
from watchkeeper.retraining.shadow_rows import ShadowComparison


def verdict(kind: str) -> Verdict:
    return Verdict(model="tiny", request_day="2026-02-12", champion_version="1", challenger_version="4",
                   primary_metric="roc_auc", higher_is_better=True, champion=0.71, challenger=0.78, difference=0.07,
                   ci=[0.05, 0.09] if kind == "better" else [-0.01, 0.02], confidence=0.95,
                   beyond_chance=kind == "better", thresholds_passed=True, holdout_days=["2026-02-10", "2026-02-11"],
                   holdout_rows=2100, train_rows=5200, verdict=kind, why="roc_auc on the holdout: ...",
                   guardrails={"log_loss": {"champion": 0.52, "challenger": 0.47}})  # fmt: skip


def test_a_better_challenger_is_proposed_with_both_ways_to_promote(tmp_path):
    cfg = tiny_config(tmp_path, str(tmp_path), model={"registered_name": "tiny_model"})
    msg = proposal_message(cfg, verdict("better"), None)
    assert "Proposed, not promoted" in msg["text"]
    assert "watchkeeper_promote" in msg["text"] and "model=tiny, version=4" in msg["text"]
    assert f"watchkeeper promote --config {cfg.source} --version 4" in msg["text"]
    fields = [f["text"] for f in msg["blocks"][2]["fields"]]
    assert fields[:3] == ["*roc_auc* champion v1\n0.7100", "*roc_auc* challenger v4\n0.7800",
                          "*gain* (95% interval)\n+0.0700 [+0.0500, +0.0900]"]  # fmt: skip
    assert "*log_loss* (guardrail)\n0.5200 → 0.4700" in fields
    assert msg["blocks"][0]["text"]["text"] == "tiny · retraining · challenger beats champion"


def test_a_challenger_within_chance_is_not_proposed_and_an_auto_promotion_says_how_to_undo(tmp_path):
    cfg = tiny_config(tmp_path, str(tmp_path), model={"registered_name": "tiny_model"})
    msg = proposal_message(cfg, verdict("not_better"), None)
    assert (
        "Not proposed: the champion (version 1) stays" in msg["text"]
        and "watchkeeper promote" not in msg["text"]
    )
    auto = proposal_message(cfg, verdict("better"), {"event": "promoted", "version": "4"})
    assert (
        "Promoted automatically: version 4" in auto["text"]
        and "watchkeeper rollback --config" in auto["text"]
    )


def test_a_proposal_says_how_many_shadow_days_a_promotion_waits_for(tmp_path):
    model = {"registered_name": "tiny_model", "auto_promote": True, "evaluation": {"shadow_days": 3}}
    cfg = tiny_config(tmp_path, str(tmp_path), model=model)
    msg = proposal_message(cfg, verdict("better"), None)
    assert "Proposed, not promoted" in msg["text"]
    assert (
        "waits for 3 labelled shadow day(s) with the challenger no worse than the champion (then it is automatic)"
        in msg["text"]
    )


def with_shadow(v: Verdict) -> Verdict:
    return v.model_copy(update={"shadow": ShadowComparison(
        version="4", metric="roc_auc", days=["2026-02-13", "2026-02-14"], rows=1200, champion=0.70, challenger=0.76,
        difference=0.06, ci=[0.03, 0.08], confidence=0.95, agrees=True, why="the shadow days agree with the holdout")})  # fmt: skip


def test_a_proposal_reports_the_shadow_interval_beside_the_holdouts_and_whether_it_agrees(tmp_path):
    cfg = tiny_config(tmp_path, str(tmp_path), model={"registered_name": "tiny_model"})
    msg = proposal_message(cfg, with_shadow(verdict("better")), None)
    fields = [f["text"] for f in msg["blocks"][2]["fields"]]
    assert fields[2] == "*gain* (95% interval)\n+0.0700 [+0.0500, +0.0900]"
    assert "*shadow gain* (1200 rows, 2 day(s))\n+0.0600 [+0.0300, +0.0800]" in fields
    assert "Shadow: the shadow days agree with the holdout" in msg["blocks"][1]["text"]["text"]


def test_an_automatic_promotion_message_names_versions_evidence_and_how_to_roll_back(tmp_path):
    cfg = tiny_config(tmp_path, str(tmp_path), model={"registered_name": "tiny_model"})
    event = {"event": "promoted", "version": "4", "from_version": "1", "by": "watchkeeper auto-promotion",
             "why": "3 of 3 labelled shadow day(s) ...", "at": "2026-02-15T06:00:00+00:00"}  # fmt: skip
    msg = champion_message(
        cfg, event, with_shadow(verdict("better")), "3 of 3 labelled shadow day(s) had ..."
    )
    assert msg["blocks"][0]["text"]["text"] == "tiny · promoted · champion v4"
    body = msg["blocks"][1]["text"]["text"]
    assert "Version 4 is the champion of tiny, promoted automatically (replacing version 1)." in body
    assert f"watchkeeper rollback --config {cfg.source}" in body and "action=rollback" in body
    assert "Shadow days: 3 of 3 labelled shadow day(s)" in body and "Shadow: the shadow days agree" in body
    fields = [f["text"] for f in msg["blocks"][2]["fields"]]
    assert fields[:2] == ["*champion now*\nversion 4", "*previous champion*\nversion 1"]
    assert "*holdout gain* (95% interval)\n+0.0700 [+0.0500, +0.0900]" in fields
    assert "*shadow gain* (1200 rows, 2 day(s))\n+0.0600 [+0.0300, +0.0800]" in fields
    assert msg["text"].startswith(":arrow_up: Version 4 is the champion")


def test_a_manual_rollback_message_says_who_why_and_how_to_promote_again(tmp_path):
    cfg = tiny_config(tmp_path, str(tmp_path), model={"registered_name": "tiny_model", "evaluation": {}})
    event = {"event": "rolled_back", "version": "1", "from_version": "4", "by": "oncall", "why": "complaints"}
    msg = champion_message(cfg, event)
    assert msg["blocks"][0]["text"]["text"] == "tiny · rolled back · champion v1"
    body = msg["blocks"][1]["text"]["text"]
    assert "rolled back by oncall (replacing version 4)" in body and "• Why: complaints" in body
    assert f"watchkeeper promote --config {cfg.source} --version 4" in body
