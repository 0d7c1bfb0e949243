"""The dashboards are generated (myhealth.dashboards), checked against Grafana's schema, show
every stored data type, and include a single-column Today dashboard for a phone
(docs/monitoring.md#changing-a-dashboard)."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard as SdkDashboard

from myhealth.dashboards import generate
from myhealth.dashboards.kit import TODAY_UID
from myhealth.oura.catalog import DATA_TYPES

from .grafana_checks import DASHBOARDS_DIR, REPO, load_dashboards

DASHBOARDS = load_dashboards()
SCHEMA_DIR = REPO / "tests" / "data" / "grafana-schema"
# Panel plugin id → the SDK's schema file for its options and custom field config.
PANEL_SCHEMAS = {
    "barchart": "barchart",
    "bargauge": "bargauge",
    "piechart": "piechart",
    "stat": "stat",
    "state-timeline": "statetimeline",
    "table": "table",
    "timeseries": "timeseries",
    "trend": "trend",
}


# ------------------------------------------------------------------------ generated, not edited


def test_the_committed_files_are_what_the_generator_writes() -> None:
    assert generate.differences(DASHBOARDS_DIR) == []


def test_a_hand_edit_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copied = tmp_path / "dashboards"
    shutil.copytree(DASHBOARDS_DIR, copied)
    sleep = copied / "sleep.json"
    sleep.write_text(sleep.read_text(encoding="utf-8").replace("Hypnogram", "Hypnogramm"))
    (copied / "stray.json").write_text("{}\n", encoding="utf-8")
    (copied / "today.json").unlink()
    assert generate.main(["--check", str(copied)]) == 1
    err = capsys.readouterr().err
    assert "sleep.json: differs" in err
    assert "stray.json: not generated" in err
    assert "today.json: missing" in err
    assert generate.main([str(copied)]) == 0
    (copied / "stray.json").unlink()
    assert generate.differences(copied) == []


def test_layout_errors_are_refused() -> None:
    from myhealth.dashboards.kit import Place, Section, Spec, Sql, build, stat_panel

    def spec(widths: list[int]) -> Spec:
        places = [Place(stat_panel("x", "", [Sql("SELECT 1")]), width, 4) for width in widths]
        return Spec(uid="u", title="t", description="", tags=[], sections=[Section("s", places)])

    build(spec([12, 12, 24]))
    with pytest.raises(ValueError, match="wider than 24"):
        build(spec([12, 16]))
    with pytest.raises(ValueError, match="not 24 columns wide"):
        build(spec([12, 12, 8]))


# ------------------------------------------------------------------------ Grafana's schema


def _sdk_round_trip(dashboard: dict[str, Any]) -> dict[str, Any]:
    """The dashboard read into the SDK's typed models and written back."""
    model = SdkDashboard.from_json(copy.deepcopy(dashboard))
    result: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return result


def _without_annotation_targets(dashboard: dict[str, Any]) -> dict[str, Any]:
    # An annotation's target belongs to its data source plugin (our SQL); the SDK models only
    # Grafana's built-in tag queries there, so it is compared by the JSON schema check alone.
    stripped = copy.deepcopy(dashboard)
    for annotation in stripped.get("annotations", {}).get("list", []):
        annotation.pop("target", None)
    return stripped


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_the_sdk_models_hold_every_field(name: str) -> None:
    """Reading a file into the SDK's types drops any key Grafana's schema does not define."""
    dashboard = _without_annotation_targets(DASHBOARDS[name])
    assert _sdk_round_trip(dashboard) == dashboard


def test_the_round_trip_notices_an_unknown_option() -> None:
    dashboard = _without_annotation_targets(DASHBOARDS["today.json"])
    dashboard["panels"][1]["options"]["colourMode"] = "value"
    dashboard["panels"][1]["fieldConfig"]["defaults"]["unitt"] = "h"
    assert _sdk_round_trip(dashboard) != dashboard


def _relaxed(node: Any) -> Any:
    """Grafana's schema as cog wrote it, with its four known over-strict spots relaxed.

    - `oneOf` → `anyOf`: cog emits unions without a discriminator as oneOf, so a value that
      fits two branches (a table's `{"type": "auto"}` cell options) would fail.
    - `MatcherConfig.options` and `DynamicConfigValue.value` are CUE's "any" (`_`), written as
      `"type": "object"`; Grafana stores strings and numbers there (a field name, a unit).
    - `Threshold.value` may be null: the schema's own description says the base step's
      -Infinity is serialised as null.
    - An annotation's `target` is a data source query (our SQL): the schema models only the
      built-in tag query there, and its own description says "TODO.. this should just be a
      normal query target". Our SQL targets are checked by running them instead.
    """
    if isinstance(node, dict):
        out = {("anyOf" if key == "oneOf" else key): _relaxed(value) for key, value in node.items()}
        definitions = out.get("definitions", {})
        for name, field in (("MatcherConfig", "options"), ("DynamicConfigValue", "value")):
            if name in definitions:
                definitions[name]["properties"][field] = {}
        if "Threshold" in definitions:
            definitions["Threshold"]["properties"]["value"] = {"type": ["number", "null"]}
        if "AnnotationQuery" in definitions:
            definitions["AnnotationQuery"]["properties"]["target"] = {"type": "object"}
        return out
    if isinstance(node, list):
        return [_relaxed(item) for item in node]
    return node


def _schema(name: str, definition: str | None = None) -> jsonschema.Draft7Validator:
    schema = _relaxed(json.loads((SCHEMA_DIR / f"{name}.jsonschema.json").read_text()))
    if definition is not None:
        schema["$ref"] = f"#/definitions/{definition}"
    return jsonschema.Draft7Validator(schema)


def schema_problems(dashboard: dict[str, Any]) -> Iterator[str]:
    for error in _schema("dashboard").iter_errors(dashboard):
        yield f"dashboard {list(error.absolute_path)}: {error.message[:200]}"
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        kind = PANEL_SCHEMAS[panel["type"]]
        parts = {
            "Options": panel.get("options", {}),
            "FieldConfig": panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {}),
        }
        definitions = json.loads((SCHEMA_DIR / f"{kind}.jsonschema.json").read_text())
        for definition, value in parts.items():
            if definition not in definitions["definitions"]:
                continue
            for error in _schema(kind, definition).iter_errors(value):
                where = f"{panel['title']} {definition} {list(error.absolute_path)}"
                yield f"{where}: {error.message[:200]}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboards_validate_against_grafanas_json_schema(name: str) -> None:
    assert list(schema_problems(DASHBOARDS[name])) == []


def test_the_schema_check_catches_wrong_options() -> None:
    broken = copy.deepcopy(DASHBOARDS["sleep.json"])
    broken["refreshh"] = "1m"
    series = next(panel for panel in broken["panels"] if panel["type"] == "timeseries")
    series["options"]["legend"]["displayMode"] = "lists"
    series["fieldConfig"]["defaults"]["custom"]["drawStyle"] = "dots"
    problems = "\n".join(schema_problems(broken))
    assert "'refreshh' was unexpected" in problems
    assert "'lists'" in problems
    assert "'dots'" in problems


def test_the_schema_is_the_one_the_pinned_sdk_was_generated_from() -> None:
    readme = (SCHEMA_DIR / "README.md").read_text(encoding="utf-8")
    lock = (REPO / "uv.lock").read_text(encoding="utf-8")
    pinned = re.search(r'name = "grafana-foundation-sdk"\nversion = "([^"]+)"', lock)
    assert pinned is not None
    assert f"grafana-foundation-sdk {pinned.group(1)}" in readme


# ------------------------------------------------------------------------ what is shown


def _queries(dashboard: dict[str, Any]) -> Iterator[str]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if "rawSql" in target:
                yield target["rawSql"]
    for annotation in dashboard.get("annotations", {}).get("list", []):
        target = annotation.get("target", {})
        if "rawSql" in target:
            yield target["rawSql"]


def test_every_stored_data_type_is_shown_on_a_health_dashboard() -> None:
    # Service health's inventory table names every table; it does not *show* the data.
    health = [board for board in DASHBOARDS.values() if "operations" not in board["tags"]]
    sql = "\n".join(query for board in health for query in _queries(board))
    tables = {data_type.table for data_type in DATA_TYPES.values()}
    assert len(tables) == 18
    missing = {table for table in tables if not re.search(rf"\b{table}\b", sql)}
    assert missing == set()


def test_workouts_tags_and_rest_mode_annotate_sleep_readiness_and_heart_rate() -> None:
    for name in ("sleep.json", "readiness.json", "oura-overview.json", "today.json"):
        annotations = {
            annotation["name"]: annotation.get("target", {}).get("rawSql", "")
            for annotation in DASHBOARDS[name]["annotations"]["list"]
        }
        assert re.search(r"\bFROM workouts\b", annotations["Workouts"]), name
        assert re.search(r"\bFROM tags\b", annotations["Tags"]), name
        assert re.search(r"\bFROM enhanced_tags\b", annotations["Tags"]), name
        assert re.search(r"\bFROM rest_mode_periods\b", annotations["Rest mode"]), name
    heart_rate = {"oura-overview.json", "today.json"}
    assert {
        name for name, board in DASHBOARDS.items() if "heart_rate" in "".join(_queries(board))
    } >= heart_rate


def test_vo2_max_and_cardiovascular_age_have_separate_axes_and_units() -> None:
    panels = {panel["title"]: panel for panel in DASHBOARDS["readiness.json"]["panels"]}
    field_config = panels["Cardiovascular age and VO2 max"]["fieldConfig"]
    assert field_config["defaults"]["unit"] == "suffix: years"
    (vo2,) = [o for o in field_config["overrides"] if o["matcher"]["options"] == "VO2 max"]
    properties = {p["id"]: p["value"] for p in vo2["properties"]}
    assert properties == {"unit": "suffix: ml/kg/min", "custom.axisPlacement": "right"}


# ------------------------------------------------------------------------ Today


def test_today_is_one_column() -> None:
    (today,) = [board for board in DASHBOARDS.values() if board["uid"] == TODAY_UID]
    assert len(today["panels"]) >= 10
    for panel in today["panels"]:
        assert (panel["gridPos"]["x"], panel["gridPos"]["w"]) == (0, 24), panel["title"]
    titles = {panel["title"] for panel in today["panels"]}
    expected = {"Last night", "Hypnogram", "Sleep stages", "Readiness contributors"}
    assert expected | {"Activity so far", "Heart rate", "Sync freshness"} <= titles


def test_today_and_the_other_dashboards_link_to_each_other() -> None:
    for board in DASHBOARDS.values():
        menu = [link for link in board["links"] if link["type"] == "dashboards"]
        assert [link["tags"] for link in menu] == [["myhealth"]], board["uid"]
        assert "myhealth" in board["tags"]
        direct = [link["url"] for link in board["links"] if link["type"] == "link"]
        assert direct == ([] if board["uid"] == TODAY_UID else [f"/d/{TODAY_UID}"]), board["uid"]
