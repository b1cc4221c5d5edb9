"""The model owner's one message per verdict: numbers, interval, and how to promote (a pure Block Kit builder)."""

from helpers import tiny_config
from watchkeeper.retraining.evaluate import Verdict
from watchkeeper.retraining.promote import proposal_message


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
