"""Shadow scoring over a tiny world with a real SQLite MLflow registry: the challenger's estimates and realized
metrics beside the champion's, logged at the day index like the rest of the history, and counted as evidence."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import FIRST_DAY, tiny_config, write_tiny_world
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from watchkeeper.cli import main
from watchkeeper.pipeline import run_day
from watchkeeper.reference import load_reference
from watchkeeper.retraining import registry
from watchkeeper.retraining.evidence import shadow_evidence
from watchkeeper.retraining.promote import promote, promote_on_evidence
from watchkeeper.storage import Storage
from watchkeeper.tracking import day_index

pytestmark = pytest.mark.slow
DAYS = 4


def _fit(ref, c: float):
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["c"]), remainder="passthrough")
    return make_pipeline(encode, LogisticRegression(C=c)).fit(ref[["x1", "x2", "c"]], ref["label"])


@pytest.fixture(scope="module")
def shadowed(tmp_path_factory):
    """Champion v1 and challenger v2 registered, then DAYS monitored days (labels arrive a day late)."""
    tmp_path = tmp_path_factory.mktemp("shadow")
    storage = Storage.from_uri(str(tmp_path / "data"))
    write_tiny_world(storage, days=DAYS)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = tiny_config(tmp_path, storage.uri, model={"registered_name": "tiny_model"})
    ref = load_reference(cfg, storage)
    sample = ref[["x1", "x2", "c"]].head(5)
    registry.register_champion(cfg, uri, storage, _fit(ref, 1.0), sample, {}, "first model")
    # A challenger fitted on shuffled labels: no better than chance, so every labelled shadow day goes against it.
    shuffled = ref.assign(label=np.random.default_rng(0).permutation(ref["label"].to_numpy()))
    _, v2 = registry.log_sklearn(
        cfg, uri, _fit(shuffled, 1.0), sample, "challenger", {}, {}, registry.CHALLENGER
    )
    results = [run_day(cfg, FIRST_DAY + timedelta(days=i), storage, storage, uri) for i in range(DAYS)]
    return cfg, storage, uri, results, v2


def test_the_challenger_is_estimated_and_realized_beside_the_champion_at_the_day_index(shadowed):
    cfg, storage, uri, results, v2 = shadowed
    last = results[-1]
    s = last.shadow
    assert s is not None and s.version == v2 and s.rows == 600
    champion_estimates = {e.metric: e.value for e in last.estimates if e.segment is None}
    assert set(s.estimated) == set(champion_estimates) and "roc_auc" in s.estimated
    assert all(0 <= v <= 1 for v in s.estimated.values()) and s.estimated_from == "the reference"
    previous = (FIRST_DAY + timedelta(days=DAYS - 2)).isoformat()
    realized = s.realized[previous]
    assert realized["labelled"]["rows"] == 600
    assert realized["champion"]["roc_auc"] != realized["challenger"]["roc_auc"]

    # The day's report draws the challenger beside the champion's estimate and realized values.
    html = storage.read_bytes(cfg.results_key(last.day, "report.html")).decode()
    assert "challenger est." in html and ">challenger<" in html

    c = registry.client(uri)
    step = day_index(last.day, cfg.start_date)
    points = c.get_metric_history(last.mlflow_run_id, "shadow.estimated_roc_auc.challenger")
    ms = int(datetime(last.day.year, last.day.month, last.day.day, tzinfo=UTC).timestamp() * 1000)
    assert [(p.step, p.timestamp, p.value) for p in points] == [(step, ms, s.estimated["roc_auc"])]
    # Realized shadow metrics go to the prediction day's run at its own day index, as realized metrics do.
    pday = date.fromisoformat(previous)
    prun = next(r for r in results if r.day == pday).mlflow_run_id
    history = c.get_metric_history(prun, "shadow.roc_auc.challenger")
    assert [(p.step, p.value) for p in history] == [
        (day_index(pday, cfg.start_date), realized["challenger"]["roc_auc"])
    ]


def test_promotion_requires_the_configured_shadow_days_and_says_how_many_supported_it(shadowed, tmp_path):
    _, storage, uri, _, v2 = shadowed
    # More labelled shadow days required than the world has.
    cfg = tiny_config(
        tmp_path, storage.uri, model={"registered_name": "tiny_model", "evaluation": {"shadow_days": DAYS}}
    )
    evidence = shadow_evidence(cfg, storage, v2)
    assert (
        evidence["labelled_days"] == DAYS - 1 and evidence["metric"] == "roc_auc" and not evidence["enough"]
    )
    assert evidence["supporting_days"] == 0
    assert all(d["challenger"] < d["champion"] for d in evidence["days"].values())
    with pytest.raises(registry.RegistryError, match=f"0 of {DAYS - 1} labelled shadow day.*{DAYS} required"):
        promote(cfg, uri, storage, v2, "ana", "looks good")
    # Automatic promotion waits for the shadow days even with a "better" verdict.
    registry.client(uri).set_model_version_tag("tiny_model", v2, "watchkeeper.verdict", "better")
    auto = tiny_config(tmp_path, storage.uri, model={"registered_name": "tiny_model", "auto_promote": True,
                                                     "evaluation": {"shadow_days": 1}})  # fmt: skip
    assert promote_on_evidence(auto, uri, storage, v2) is None
    assert registry.by_alias(registry.client(uri), "tiny_model", "champion") == "1"

    (tmp_path / "relaxed").mkdir()
    relaxed = tiny_config(tmp_path / "relaxed", storage.uri, model={"registered_name": "tiny_model"})
    out = CliRunner().invoke(
        main, ["promote", "--config", relaxed.source, "--version", v2, "--by", "ana", "--tracking-uri", uri]
    )
    assert out.exit_code == 0, out.output
    assert f"0 of {DAYS - 1} labelled shadow day(s)" in out.output
    event = registry.history(storage, relaxed)[-1]
    assert event["shadow_days"] == {"metric": "roc_auc", "required": 0, "labelled_days": DAYS - 1,
                                    "supporting_days": 0}  # fmt: skip
