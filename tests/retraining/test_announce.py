"""Every champion move tells the model owner once, on a real SQLite MLflow registry: the automatic promotion after the
evaluation (its re-run sends nothing), and manual promotion and rollback through the CLI (outbox or pending)."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import tiny_config
from sklearn.linear_model import LogisticRegression
from watchkeeper.cli import main
from watchkeeper.delivery import deliver_once, record, retry_pending
from watchkeeper.outbox import read_outbox
from watchkeeper.retraining import registry, run
from watchkeeper.retraining.evaluate import Verdict

pytestmark = pytest.mark.slow
DAY = "2025-03-04"


@pytest.fixture
def proposed(tiny, tmp_path):
    """Champion v1, challenger v2 with a stored "better" verdict of the request of DAY."""
    _, storage, _ = tiny
    model = {"registered_name": "tiny_model", "auto_promote": True}
    cfg = tiny_config(tmp_path, storage.uri, model=model)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    x = pd.DataFrame({"x1": np.linspace(-2, 2, 40), "x2": np.tile([0.0, 1.0], 20)})
    y = (x["x1"] > 0).astype(int)
    v1 = registry.register_champion(cfg, uri, storage, LogisticRegression().fit(x, y), x.head(5), {}, "first")
    _, v2 = registry.log_sklearn(cfg, uri, LogisticRegression(C=0.1).fit(x, y), x.head(5), "challenger",
                                 {"watchkeeper.request_day": DAY}, {}, registry.CHALLENGER)  # fmt: skip
    verdict = Verdict(model="tiny", request_day=DAY, champion_version=v1, challenger_version=v2,
                      primary_metric="roc_auc", higher_is_better=True, champion=0.71, challenger=0.78, difference=0.07,
                      ci=[0.05, 0.09], confidence=0.95, beyond_chance=True, thresholds_passed=True,
                      holdout_days=[DAY], holdout_rows=2100, train_rows=5200, verdict="better",
                      why="roc_auc on the holdout: champion 0.7100, challenger 0.7800")  # fmt: skip
    storage.write_json(f"{run.prefix(cfg, DAY)}/verdict.json", verdict.model_dump(mode="json"))
    storage.write_json(
        f"{run.prefix(cfg, DAY)}/outcome.json", {"model": "tiny", "day": DAY, "status": "ready"}
    )
    return cfg, uri, storage, v1, v2


def test_an_automatic_promotion_after_the_evaluation_tells_the_owner_once_and_a_rerun_sends_nothing(proposed):
    cfg, uri, storage, v1, v2 = proposed
    sent = []

    def send(role: str, key: str, payload: dict) -> str:
        sent.append((role, key, payload))
        return "test-receiver"

    day = pd.Timestamp(DAY).date()
    message, outcome = run.propose(cfg, storage, uri, day)
    assert outcome["status"] == "promoted" and outcome["message_key"] == f"champion/promoted/v{v2}/1"
    assert registry.by_alias(registry.client(uri), "tiny_model", "champion") == v2
    assert (
        deliver_once(cfg, storage, [outcome["message_key"]], "model", DAY, message, send) == "test-receiver"
    )
    assert [(role, key) for role, key, _ in sent] == [("model", f"champion/promoted/v{v2}/1")]
    assert message["blocks"][0]["text"]["text"] == f"tiny · promoted · champion v{v2}"
    body = message["blocks"][1]["text"]["text"]
    assert (
        f"promoted automatically (replacing version {v1})" in body and "watchkeeper rollback --config" in body
    )
    fields = [f["text"] for f in message["blocks"][2]["fields"]]
    assert "*holdout gain* (95% interval)\n+0.0700 [+0.0500, +0.0900]" in fields

    # The retraining DAG's propose task re-run: the promotion stands, its message is not sent again.
    again, outcome2 = run.propose(cfg, storage, uri, day)
    assert outcome2["status"] == "promoted" and outcome2["message_key"] == outcome["message_key"]
    assert deliver_once(cfg, storage, [outcome2["message_key"]], "model", DAY, again, send) == "already sent"
    assert len(sent) == 1 and record(cfg, storage, outcome["message_key"])["status"] == "sent"
    assert [e["event"] for e in registry.history(storage, cfg)].count("promoted") == 1


def test_manual_promotion_and_rollback_tell_the_owner_who_and_why_each_once(proposed, tmp_path):
    cfg, uri, storage, v1, v2 = proposed
    outbox = tmp_path / "outbox.jsonl"
    cli = ["--config", cfg.source, "--tracking-uri", uri]
    out = CliRunner().invoke(main, ["promote", *cli, "--version", v2, "--by", "ana", "--outbox", str(outbox)])
    assert out.exit_code == 0, out.output
    assert "model owner: outbox:" in out.output
    [m] = read_outbox(outbox)
    assert m["key"] == f"tiny/champion/promoted/v{v2}/1" and m["destination"] == "ml-team"
    body = m["payload"]["blocks"][1]["text"]["text"]
    assert f"promoted by ana (replacing version {v1})" in body and "Why: approved by the model owner" in body

    # Without --outbox the rollback's message waits in the delivery log for the next delivery, which sends it once.
    out = CliRunner().invoke(
        main, ["rollback", *cli, "--by", "oncall", "--reason", "complaints from the field"]
    )
    assert out.exit_code == 0, out.output
    key = f"champion/rolled_back/v{v1}/1"
    assert f"queued as {key}" in out.output and record(cfg, storage, key)["status"] == "pending"
    sent = []
    retry_pending(cfg, storage, lambda role, k, payload: sent.append((role, k, payload)) or "test-receiver")
    retry_pending(cfg, storage, lambda role, k, payload: sent.append((role, k, payload)) or "test-receiver")
    assert [(role, k) for role, k, _ in sent] == [("model", key)]
    rolled = json.dumps(sent[0][2])
    assert "rolled back by oncall" in rolled and "complaints from the field" in rolled
    assert f"watchkeeper promote --config {cfg.source} --version {v2}" in rolled

    # Promoting the same version again is a new move: a second message with its own key.
    out = CliRunner().invoke(main, ["promote", *cli, "--version", v2, "--by", "ana", "--outbox", str(outbox)])
    assert out.exit_code == 0, out.output
    assert [m["key"] for m in read_outbox(outbox)] == [
        f"tiny/champion/promoted/v{v2}/1",
        f"tiny/champion/promoted/v{v2}/2",
    ]
