"""What the retraining path did for a model, in a few lines: each request's outcome, verdicts, and the aliases.

Reads the stored outcomes (`retraining/<day>/outcome.json`) and the registry; used by the demo's closing report.
"""

from __future__ import annotations

from watchkeeper.config import ModelConfig
from watchkeeper.retraining import registry
from watchkeeper.storage import Storage


def outcomes(cfg: ModelConfig, results: Storage) -> list[dict]:
    prefix = f"{cfg.storage.results_prefix}/{cfg.name}/retraining/"
    keys = [k for k in results.list(prefix) if k.endswith("/outcome.json")]
    return [results.read_json(k) for k in sorted(keys)]


def render(cfg: ModelConfig, results: Storage, tracking_uri: str) -> str:
    lines = [f"{cfg.name}: retraining requests and verdicts"]
    for o in outcomes(cfg, results):
        if o["status"] == "refused":
            lines.append(f"  {o['day']}  refused ({o['kind']}): {o['why'].split(': ', 1)[-1]}")
            continue
        v = o.get("verdict")
        if not v:
            lines.append(f"  {o['day']}  {o['status']}")
            continue
        lines.append(
            f"  {o['day']}  challenger v{v['challenger_version']} vs champion v{v['champion_version']} → "
            f"{v['verdict']}, {o['status']}: {v['why']}"
        )
    c = registry.client(tracking_uri)
    name = registry.model_section(cfg).registered_name
    aliases = {
        a: registry.by_alias(c, name, a) for a in (registry.CHAMPION, registry.CHALLENGER, registry.PREVIOUS)
    }
    lines.append("  registry " + name + ": " + ", ".join(f"{a} v{v}" for a, v in aliases.items() if v))
    return "\n".join(lines)


def latest_proposal(cfg: ModelConfig, results: Storage) -> str | None:
    """The challenger version of the most recent "proposed" outcome (for the demo's approval), or None."""
    proposed = [o for o in outcomes(cfg, results) if o["status"] == "proposed"]
    return proposed[-1]["verdict"]["challenger_version"] if proposed else None
