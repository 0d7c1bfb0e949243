"""values.schema.json is generated from values.yaml and kept current."""

from __future__ import annotations

from .values_schema import CHART, generate, render


def test_committed_schema_is_generated_from_values_yaml() -> None:
    committed = (CHART / "values.schema.json").read_text()
    assert committed == render(generate()), (
        "values.schema.json is stale: run `uv run --frozen python -m tests.deploy.values_schema`"
    )


def test_every_value_is_described_or_self_explanatory() -> None:
    schema = generate()
    described = [key for key, value in schema["properties"].items() if "description" in value]
    assert len(described) < len(schema["properties"])  # top-level blocks are headed by comments
    assert schema["properties"]["image"]["properties"]["repository"]["description"]
