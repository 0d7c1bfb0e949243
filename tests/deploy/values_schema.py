"""Generates helm/myhealth/values.schema.json from values.yaml: types from the defaults,
descriptions from the `# --` comments, closed objects (unknown keys are typos), plus the few
tighter rules below. Run after changing values.yaml:

    uv run --frozen python -m tests.deploy.values_schema

tests/deploy/test_values_schema.py fails when the committed schema is out of date."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "myhealth"
Path_ = tuple[str, ...]

# Maps whose keys are the user's (labels, annotations, Kubernetes objects).
FREE_FORM: set[Path_] = {
    ("commonLabels",),
    ("platform",),
    ("podAnnotations",),
    ("podLabels",),
    ("nodeSelector",),
    ("affinity",),
    ("ingress", "gatewaySelector"),
    ("networkPolicy", "dns", "podLabels"),
    ("monitoring", "serviceMonitor", "labels"),
    ("monitoring", "prometheusRule", "labels"),
    ("monitoring", "grafanaDashboards", "labels"),
    ("monitoring", "grafanaDatasources", "labels"),
}
KUBERNETES_OBJECTS: dict[Path_, str] = {
    ("podSecurityContext",): "PodSecurityContext",
    ("containerSecurityContext",): "SecurityContext",
}
OBJECT_LISTS = {"extraEnv", "tolerations", "imagePullSecrets", "apiIngressFrom"}
ENUMS: dict[Path_, list[str]] = {
    ("image", "pullPolicy"): ["Always", "IfNotPresent", "Never"],
    ("service", "type"): ["ClusterIP", "NodePort", "LoadBalancer"],
    ("database", "sslMode"): ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
    ("istio", "peerAuthentication", "mode"): ["STRICT", "PERMISSIVE"],
    ("externalSecrets", "secretStoreRef", "kind"): ["SecretStore", "ClusterSecretStore"],
    ("config", "logLevel"): ["debug", "info", "warning", "error", "critical"],
}
QUANTITY = {"type": ["string", "number"]}
RESOURCES: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        section: {
            "type": "object",
            "additionalProperties": False,
            "properties": {"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY},
        }
        for section in ("requests", "limits")
    },
}


def descriptions(source: str) -> dict[Path_, str]:
    """`# -- text` comments (continued by plain comment lines) above a key describe it."""
    found: dict[Path_, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"^(\s*)([A-Za-z_][\w-]*):", line)
        if not match:
            pending = []
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        if pending and pending[0].startswith("--"):
            text = " ".join([pending[0][2:].strip(), *pending[1:]])
            found[tuple(key for _, key in stack)] = text.strip()
        pending = []
    return found


def node(path: Path_, value: Any, described: dict[Path_, str]) -> dict[str, Any]:
    schema: dict[str, Any]
    if path in FREE_FORM:
        schema = {"type": "object"}
    elif path in KUBERNETES_OBJECTS:
        schema = {"type": "object", "description": f"A Kubernetes {KUBERNETES_OBJECTS[path]}."}
    elif path and path[-1] == "resources":
        schema = copy.deepcopy(RESOURCES)
    elif isinstance(value, dict):
        schema = {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: node((*path, k), v, described) for k, v in value.items()},
        }
    elif isinstance(value, bool):
        schema = {"type": "boolean"}
    elif isinstance(value, int):
        schema = {"type": "integer", "minimum": 0}
    elif isinstance(value, list):
        items = {"type": "object"} if path[-1] in OBJECT_LISTS else {"type": "string"}
        schema = {"type": "array", "items": items}
    else:
        schema = {"type": "string"}
    if path in ENUMS:
        schema["enum"] = ENUMS[path]
    if path in described and "description" not in schema:
        schema = {"description": described[path], **schema}
    return schema


def generate(values_file: Path = CHART / "values.yaml") -> dict[str, Any]:
    source = values_file.read_text()
    root = node((), yaml.safe_load(source), descriptions(source))
    props = root["properties"]
    for job in ("collector", "backup"):
        props[job]["properties"]["schedule"]["pattern"] = r"^(\S+\s+){4}\S+$"
    for component in ("processor", "api"):
        block = props[component]["properties"]
        block["port"].update({"minimum": 1, "maximum": 65535})
        block["replicaCount"]["minimum"] = 1
        scaling = block["autoscaling"]["properties"]
        scaling["minReplicas"]["minimum"] = 1
        scaling["maxReplicas"]["minimum"] = 1
        scaling["targetCPUUtilizationPercentage"].update({"minimum": 1, "maximum": 100})
    props["database"]["properties"]["port"].update({"minimum": 1, "maximum": 65535})
    props["aws"]["properties"]["accountId"]["type"] = ["string", "integer"]
    props["image"]["properties"]["digest"]["pattern"] = "^(|sha256:[a-f0-9]{64})$"
    uploader = props["backup"]["properties"]["uploader"]["properties"]["image"]["properties"]
    uploader["digest"]["pattern"] = "^(|sha256:[a-f0-9]{64})$"
    props["image"]["properties"]["repository"]["minLength"] = 1
    return {
        "$schema": "https://json-schema.org/draft-07/schema#",
        "title": "myhealth chart values",
        **root,
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


if __name__ == "__main__":
    target = CHART / "values.schema.json"
    target.write_text(render(generate()))
    sys.stdout.write(f"wrote {target}\n")
