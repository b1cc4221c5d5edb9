"""Champion/challenger on one holdout through `mlflow.models.evaluate` and `validate_evaluation_results`, on a real
SQLite MLflow store: the metrics side by side equal scikit-learn's, and only what the verdict uses is computed."""

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from watchkeeper.retraining import registry
from watchkeeper.retraining.evaluate import compare
from watchkeeper.retraining.training_set import TrainingSet
from watchkeeper.storage import Storage

pytestmark = pytest.mark.slow


def _rows(rng, n):
    x = pd.DataFrame({"x1": rng.normal(0, 1, n), "x2": rng.normal(0, 1, n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * x["x1"] - 1.5 * x["x2"])))).astype(int)
    return x.assign(label=y, pid=[f"r{i}" for i in range(n)])


def test_a_challenger_that_sees_x2_wins_and_the_comparison_run_has_both_models_metrics(tmp_path):
    storage = Storage.from_uri(str(tmp_path / "data"))
    storage.ensure_root()
    cfg = tiny_config(tmp_path, storage.uri, columns={"id": "pid", "features": ["x1", "x2"], "score": "score",
                      "prediction": "pred", "target": "label"}, model={"registered_name": "tiny_eval"})  # fmt: skip
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    rng = np.random.default_rng(4)
    train, holdout = _rows(rng, 3000), _rows(rng, 2000)
    x = ["x1", "x2"]
    blind = train.assign(x2=0.0)  # the champion learnt without x2
    champion = LogisticRegression().fit(blind[x], blind["label"])
    challenger = LogisticRegression().fit(train[x], train["label"])
    v1 = registry.register_champion(cfg, uri, storage, champion, train[x].head(5), {}, "first")
    _, v2 = registry.log_sklearn(
        cfg, uri, challenger, train[x].head(5), "challenger", {}, {}, registry.CHALLENGER
    )
    facts = {"request_day": "2025-03-10", "holdout_days": ["2025-03-09", "2025-03-10"],
             "holdout_rows": len(holdout), "train_rows": len(train)}  # fmt: skip
    verdict = compare(cfg, uri, TrainingSet(train, holdout, facts), {"champion_version": v1, "version": v2})

    y = holdout["label"].to_numpy()
    scores = {
        r: m.predict_proba(holdout[x])[:, 1] for r, m in (("champion", champion), ("challenger", challenger))
    }
    assert verdict.verdict == "better" and verdict.thresholds_passed and verdict.ci[0] > 0
    assert verdict.champion == pytest.approx(roc_auc_score(y, scores["champion"]))
    assert verdict.challenger == pytest.approx(roc_auc_score(y, scores["challenger"]))
    c = registry.client(uri)
    run = c.get_run(verdict.comparison_run_id)
    for role, s in scores.items():
        assert run.data.metrics[f"{role}_roc_auc"] == pytest.approx(roc_auc_score(y, s))
        assert run.data.metrics[f"{role}_precision_recall_auc"] == pytest.approx(
            average_precision_score(y, s)
        )
        assert run.data.metrics[f"{role}_log_loss"] == pytest.approx(log_loss(y, s))
        assert f"{role}_f1_score" in run.data.metrics
    assert verdict.guardrails["log_loss"]["challenger"] < verdict.guardrails["log_loss"]["champion"]
    # No curve figures: only each model's confusion matrix and the verdict.
    artifacts = sorted(a.path for a in c.list_artifacts(verdict.comparison_run_id))
    assert [a for a in artifacts if a.endswith(".png")] == [
        "challenger_confusion_matrix.png", "champion_confusion_matrix.png"]  # fmt: skip
    assert "verdict.json" in artifacts
