"""Retraining over shortened demo worlds on the local S3 server and a SQLite MLflow registry, monitoring included.

The concept-drift incident of each model leads to a challenger that beats the champion on a post-drift holdout and
is proposed, not promoted; a covariate-only week, even with auto-promotion on, moves the champion only when the
holdout supports it; a request on a day whose data failed quality is refused with its reason.
"""

from datetime import date, timedelta

import pytest
import yaml
from helpers import incident
from watchkeeper.config import load_config
from watchkeeper.demo import WORLDS
from watchkeeper.demo.champions import champion
from watchkeeper.pipeline import run_day
from watchkeeper.retraining import registry
from watchkeeper.retraining.run import retrain
from watchkeeper.storage import Storage

pytestmark = pytest.mark.slow
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
DAYS = 30


def setup_world(model, s3_credentials, tmp_path, **model_overrides):
    bucket = f"wk-rt-{model.replace('_', '-')}-{len(model_overrides)}"
    raw = yaml.safe_load((ROOT / f"include/models/{model}.yaml").read_text())
    raw["storage"]["uri"] = f"s3://{bucket}/{model}"
    raw["quality"] = {"expectations_dir": "expectations"}
    raw["model"].update(model_overrides)
    (tmp_path / f"{model}.yaml").write_text(yaml.safe_dump(raw))
    cfg = load_config(tmp_path / f"{model}.yaml")
    storage = Storage.from_uri(cfg.storage.uri, s3_credentials)
    storage.ensure_root()
    manifest = WORLDS[model](storage.write_bytes, days=DAYS)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    fitted, sample, tags = champion(model)
    registry.register_champion(cfg, uri, storage, fitted, sample, tags, "in production")
    return cfg, storage, manifest, uri


@pytest.fixture(scope="module")
def worlds(s3_stack, tmp_path_factory):
    """One world per demo model, shared by the tests that leave its champion alone (the profile is built once)."""
    from watchkeeper.storage import S3Credentials

    creds = S3Credentials(access_key="test", secret_key="test", endpoint_url=s3_stack.s3_endpoint)
    made = {}

    def get(model):
        if model not in made:
            made[model] = setup_world(model, creds, tmp_path_factory.mktemp(model))
        return made[model]

    return get


def monitor_and_retrain(cfg, storage, uri, first: date, last: date) -> list[dict]:
    outcomes = []
    day = first
    while day <= last:
        result = run_day(cfg, day, storage, storage, uri)
        if any(a.kind == "retrain" for a in result.actions):
            outcomes.append(retrain(cfg, storage, storage, uri, day, "monitoring")[0])
        day += timedelta(days=1)
    return outcomes


@pytest.mark.parametrize("model", ["credit_default", "delivery_time"])
def test_concept_drift_leads_to_a_challenger_that_wins_on_the_post_drift_holdout_and_is_proposed(
    model, worlds
):
    cfg, storage, manifest, uri = worlds(model)
    concept = incident(manifest, "concept_drift")
    start, end = date.fromisoformat(concept["start"]), date.fromisoformat(concept["end"])
    outcomes = monitor_and_retrain(cfg, storage, uri, start, end + timedelta(days=2))
    trained = [o for o in outcomes if o["status"] != "refused"]
    assert trained, outcomes
    proposed = [o for o in trained if o["status"] == "proposed"]
    assert proposed, [o["verdict"]["why"] for o in trained]
    v = proposed[0]["verdict"]
    assert all(start.isoformat() <= d <= end.isoformat() for d in v["holdout_days"])  # a post-drift holdout
    gain = v["challenger"] - v["champion"] if v["higher_is_better"] else v["champion"] - v["challenger"]
    assert gain == pytest.approx(v["difference"], abs=1e-9) and v["ci"][0] > 0 and v["thresholds_passed"]
    c = registry.client(uri)
    assert registry.by_alias(c, cfg.model.registered_name, "champion") == "1"  # proposed, not promoted
    assert (
        registry.by_alias(c, cfg.model.registered_name, "challenger")
        == trained[-1]["verdict"]["challenger_version"]
    )
    # Requests on consecutive days start one retraining: within the cooldown every later request is declined.
    days = [date.fromisoformat(o["day"]) for o in trained]
    assert all(
        (b - a).days >= cfg.model.retraining.cooldown_days for a, b in zip(days, days[1:], strict=False)
    )
    versions = len(c.search_model_versions(f"name='{cfg.model.registered_name}'"))
    again, _ = retrain(cfg, storage, storage, uri, days[-1] + timedelta(days=1), "a second request")
    assert again["status"] == "refused" and again["kind"] == "cooldown"
    assert len(c.search_model_versions(f"name='{cfg.model.registered_name}'")) == versions


def test_a_covariate_only_week_promotes_nothing_the_holdout_does_not_support(s3_credentials, tmp_path):
    cfg, storage, manifest, uri = setup_world("credit_default", s3_credentials, tmp_path, auto_promote=True)
    shift = incident(manifest, "covariate_drift")
    start, end = date.fromisoformat(shift["start"]), date.fromisoformat(shift["end"])
    outcomes = monitor_and_retrain(cfg, storage, uri, start, end + timedelta(days=3))
    for o in outcomes:
        if o["status"] == "refused":
            continue
        v = o["verdict"]
        assert (o["status"] == "promoted") == (
            v["verdict"] == "better" and v["ci"][0] > 0 and v["thresholds_passed"]
        )
    c = registry.client(uri)
    promoted = [o for o in outcomes if o["status"] == "promoted"]
    assert registry.by_alias(c, cfg.model.registered_name, "champion") == (
        promoted[-1]["verdict"]["challenger_version"] if promoted else "1"
    )


def test_a_request_on_a_day_that_failed_quality_is_refused_with_its_reason(worlds):
    cfg, storage, manifest, uri = worlds("credit_default")
    versions = registry.client(uri).search_model_versions(f"name='{cfg.model.registered_name}'")
    dq = incident(manifest, "data_quality")
    day = date.fromisoformat(dq["start"])
    run_day(cfg, day, storage, storage, uri)
    outcome, message = retrain(cfg, storage, storage, uri, day, "manual request")
    assert outcome["status"] == "refused" and outcome["kind"] == "quality"
    assert "failed quality" in outcome["why"] and "income" in outcome["why"]
    assert "retraining refused" in message["text"] and "income" in message["text"]
    # Nothing was trained: the registry holds the same versions as before the request.
    after = registry.client(uri).search_model_versions(f"name='{cfg.model.registered_name}'")
    assert sorted(v.version for v in after) == sorted(v.version for v in versions)
