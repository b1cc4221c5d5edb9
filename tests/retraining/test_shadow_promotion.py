"""Shadow days as evidence and the automatic promotion they allow, on a real SQLite MLflow registry and the local S3
server: the shadow interval is the paired bootstrap over the stored shadow rows, it appears in the verdict, the
comparison run and the messages, and the shadow step's promotion tells the model owner exactly once."""

from datetime import timedelta

import pandas as pd
import pytest
from helpers import FIRST_DAY, parquet_bytes, tiny_config, write_tiny_world
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from watchkeeper.delivery import record, send_day
from watchkeeper.history import replay_stored
from watchkeeper.outbox import read_outbox, write_outbox
from watchkeeper.pipeline import run_day
from watchkeeper.reference import load_reference
from watchkeeper.retraining import registry, run
from watchkeeper.retraining.announce import announce
from watchkeeper.retraining.bootstrap import paired_bootstrap
from watchkeeper.retraining.evaluate import Verdict
from watchkeeper.retraining.promote import proposal_message
from watchkeeper.retraining.training_set import TrainingSet, store

pytestmark = pytest.mark.slow
X = ["x1", "x2", "c"]
REQUEST = (FIRST_DAY - timedelta(days=1)).isoformat()


def _fit(frame: pd.DataFrame):
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["c"]), remainder="passthrough")
    return make_pipeline(encode, LogisticRegression()).fit(frame[X], frame["label"])


def test_shadow_rows_feed_the_verdict_and_the_shadow_promotion_tells_the_owner_once(s3_storage, tmp_path):
    storage = s3_storage
    world = write_tiny_world(storage, days=3)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    model = {"registered_name": "tiny_model", "auto_promote": True,
             "evaluation": {"shadow_days": 1, "bootstrap_samples": 300}}  # fmt: skip
    cfg = tiny_config(tmp_path, storage.uri, model=model)
    ref = load_reference(cfg, storage)
    # The champion never learnt x2 and c; production's scores are its own. The challenger sees every feature.
    champion, challenger = _fit(ref.assign(x2=0.0, c="a")), _fit(ref)
    for day, frame in world.items():
        scored = frame.assign(score=champion.predict_proba(frame[X])[:, 1])
        scored["pred"] = (scored["score"] >= 0.5).astype(int)
        storage.write_bytes(f"days/{day}.parquet", parquet_bytes(scored.drop(columns=["label"])))
    v1 = registry.register_champion(cfg, uri, storage, champion, ref[X].head(5), {}, "first model")
    _, v2 = registry.log_sklearn(cfg, uri, challenger, ref[X].head(5), "challenger",
                                 {"watchkeeper.request_day": REQUEST}, {}, registry.CHALLENGER)  # fmt: skip
    # The retraining's evaluation and proposal, on a holdout of reference rows.
    p = run.prefix(cfg, REQUEST)
    facts = {
        "request_day": REQUEST,
        "holdout_days": [REQUEST],
        "holdout_rows": 2400,
        "train_rows": len(ref) - 2400,
    }
    store(TrainingSet(ref.iloc[:-2400], ref.iloc[-2400:], facts), storage, p)
    storage.write_json(f"{p}/trained.json", {"champion_version": v1, "version": v2})
    storage.write_json(f"{p}/outcome.json", {"model": cfg.name, "day": REQUEST, "status": "ready"})
    verdict = run.evaluate(cfg, storage, uri, FIRST_DAY - timedelta(days=1))
    assert verdict.verdict == "better" and verdict.shadow is None  # no shadow day yet
    _, outcome = run.propose(cfg, storage, uri, FIRST_DAY - timedelta(days=1))
    assert outcome["status"] == "proposed" and outcome["message_key"] == f"{REQUEST}/model/retrain"

    sent: list[tuple[str, str, dict]] = []

    def send(role: str, key: str, payload: dict) -> str:
        sent.append((role, key, payload))
        return (
            f"outbox:{write_outbox(f'{cfg.name}/{key}', cfg.owners.of(role).name, payload, tmp_path / 'out')}"
        )

    def monitor(day):
        run_day(cfg, day, storage, storage, uri)
        send_day(cfg, storage, replay_stored(cfg, storage), day, send)  # what the DAG's send_messages does

    day0, day1 = FIRST_DAY, FIRST_DAY + timedelta(days=1)
    monitor(day0)
    assert (
        registry.by_alias(registry.client(uri), "tiny_model", "champion") == v1
    )  # no labelled shadow day yet
    monitor(day1)  # labels of day0 arrive: one labelled shadow day, the challenger better on it

    # The shadow interval is the paired bootstrap over day0's rows: both models' scores and their labels.
    rows = world[day0.isoformat()]
    y = rows["label"].to_numpy()
    a = champion.predict(rows[X]), champion.predict_proba(rows[X])[:, 1]
    b = challenger.predict(rows[X]), challenger.predict_proba(rows[X])[:, 1]
    diff, ci = paired_bootstrap("roc_auc", cfg.task, y, a, b, 300, 0.95)
    stored = Verdict.model_validate(storage.read_json(f"{p}/verdict.json"))
    s = stored.shadow
    assert s is not None and s.days == [day0.isoformat()] and s.rows == 600
    assert s.champion == pytest.approx(roc_auc_score(y, a[1])) and s.challenger == pytest.approx(
        roc_auc_score(y, b[1])
    )
    assert s.difference == pytest.approx(diff) and s.ci == pytest.approx(ci) and ci[0] > 0
    assert s.agrees is True and "the shadow days agree with the holdout" in stored.summary()
    c = registry.client(uri)
    comparison = c.get_run(stored.comparison_run_id).data
    assert comparison.metrics["shadow_difference_roc_auc"] == pytest.approx(diff)
    assert comparison.metrics["shadow_difference_roc_auc_ci_lower"] == pytest.approx(ci[0])
    assert comparison.metrics["difference_roc_auc_ci_lower"] == pytest.approx(
        stored.ci[0]
    )  # beside the holdout's
    assert comparison.metrics["shadow_rows"] == 600
    assert "agree with the holdout" in comparison.tags["watchkeeper.shadow_evidence"]
    proposal = proposal_message(cfg, stored, None)
    shadow_field = f"*shadow gain* (600 rows, 1 day(s))\n{diff:+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]"
    assert shadow_field in [f["text"] for f in proposal["blocks"][2]["fields"]]

    # The shadow step promoted v2 and its message went to the model owner once, through the delivery log.
    assert registry.by_alias(c, "tiny_model", "champion") == v2
    promoted = [(role, key, payload) for role, key, payload in sent if key.startswith("champion/")]
    assert [(role, key) for role, key, _ in promoted] == [("model", f"champion/promoted/v{v2}/1")]
    payload = promoted[0][2]
    assert payload["blocks"][0]["text"]["text"] == f"tiny · promoted · champion v{v2}"
    body = payload["blocks"][1]["text"]["text"]
    assert "promoted automatically (replacing version 1)" in body and "watchkeeper rollback --config" in body
    assert "Shadow days: 1 of 1 labelled shadow day(s)" in body and "the shadow days agree" in body
    assert shadow_field in [f["text"] for f in payload["blocks"][2]["fields"]]
    assert "2025-03-01-" not in str(payload)  # no row of the day (ids) in the message
    assert record(cfg, storage, f"champion/promoted/v{v2}/1")["status"] == "sent"
    outbox = [m for m in read_outbox(tmp_path / "out") if "/champion/" in m["key"]]
    assert [(m["key"], m["destination"]) for m in outbox] == [(f"tiny/champion/promoted/v{v2}/1", "ml-team")]

    # Re-running the day, or announcing the same promotion again, sends nothing more.
    sent.clear()
    monitor(day1)
    event = registry.history(storage, cfg)[-1]
    assert event["event"] == "promoted" and announce(cfg, uri, storage, event, send) == "already sent"
    assert not [key for _, key, _ in sent if key.startswith("champion/")]

    # Re-running the evaluation now that shadow rows exist: the same shadow interval beside the holdout's.
    again = run.evaluate(cfg, storage, uri, FIRST_DAY - timedelta(days=1))
    assert again.shadow is not None and again.shadow.ci == pytest.approx(ci) and again.shadow.agrees is True
    metrics = c.get_run(again.comparison_run_id).data.metrics
    assert metrics["shadow_difference_roc_auc_ci_upper"] == pytest.approx(ci[1])
    assert metrics["difference_roc_auc_ci_upper"] == pytest.approx(again.ci[1])
