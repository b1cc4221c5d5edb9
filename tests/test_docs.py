"""The committed JSON schemas in docs/ match the code, so the documentation cannot silently go stale."""

import json
from pathlib import Path

from watchkeeper.config import ModelConfig
from watchkeeper.result import DayResult

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_committed_schemas_are_current():
    # Regenerate with: uv run python -c "..." as in docs/README.md
    assert json.loads((DOCS / "config.schema.json").read_text()) == ModelConfig.model_json_schema()
    assert json.loads((DOCS / "result.schema.json").read_text()) == DayResult.model_json_schema()


def test_every_config_field_is_documented():
    def walk(schema, defs, path=""):
        for name, prop in schema.get("properties", {}).items():
            if name == "source":
                continue
            ref = prop.get("$ref") or next(
                (a.get("$ref") for a in prop.get("anyOf", []) if "$ref" in a), None
            )
            if ref:
                walk(defs[ref.split("/")[-1]], defs, f"{path}{name}.")
            else:
                assert prop.get("description"), f"config field {path}{name} has no docstring"

    schema = ModelConfig.model_json_schema()
    walk(schema, schema["$defs"])
