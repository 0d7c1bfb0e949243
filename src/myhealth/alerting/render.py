"""Renders observability/alertmanager/alertmanager.yml.tmpl into an Alertmanager configuration.

The template is parsed as YAML first and only string values are filled in, so a value from the
environment can never change the document's structure. `${NAME}` takes the variable's value;
when the variable is unset or empty, the nearest optional block holding it is left out (one
receiver integration, an `http_config`, or one `global` setting), so the owner configures only
the receivers they use. `${NAME:-default}` falls back to `default`. A placeholder outside any
optional block must be set. Rules: docs/monitoring.md#alert-delivery.

    python -m myhealth.alerting.render [--template PATH] [--output PATH]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from myhealth.platform.errors import ErrorCode, UserFacingError

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")
# The ntfy templates next to the Alertmanager template, URL-encoded into the ntfy URLs.
NTFY_TEMPLATES = {"NTFY_TITLE": "ntfy-title.tmpl", "NTFY_MESSAGE": "ntfy-message.tmpl"}
DEFAULT_TEMPLATE = (
    Path(__file__).resolve().parents[3] / "observability" / "alertmanager" / "alertmanager.yml.tmpl"
)


class TemplateError(UserFacingError):
    """The Alertmanager template cannot be rendered with these settings."""

    code = ErrorCode.ALERTING_TEMPLATE_INVALID


class _Unset(Exception):
    """A `${NAME}` without a value: the enclosing optional block is dropped."""


def _fill(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1), "")
        if value:
            return value
        if match.group(2) is not None:
            return match.group(2)
        raise _Unset(match.group(1))

    return PLACEHOLDER.sub(one, text)


def _walk(node: Any, values: Mapping[str, str], path: str) -> Any:
    """`node` with every placeholder filled; `_Unset` escapes to the nearest optional block."""
    if isinstance(node, str):
        return _fill(node, values)
    if isinstance(node, list):
        items = []
        for index, item in enumerate(node):
            try:
                items.append(_walk(item, values, f"{path}[{index}]"))
            except _Unset:
                if not path.endswith("_configs"):
                    raise
        return items
    if isinstance(node, dict):
        filled = {}
        for key, value in node.items():
            try:
                filled[key] = _walk(value, values, f"{path}.{key}" if path else str(key))
            except _Unset:
                if key != "http_config" and path != "global":
                    raise
        # A receiver left with no integration of a kind lists none (Alertmanager would accept
        # `[]`, but the rendered file reads better without it).
        return {k: v for k, v in filled.items() if not (k.endswith("_configs") and v == [])}
    return node


def render(template: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """The Alertmanager configuration `template` describes for these settings."""
    values = dict(environ)
    for name, filename in NTFY_TEMPLATES.items():
        text = (template.parent / filename).read_text(encoding="utf-8").strip()
        values[name] = urllib.parse.quote(text, safe="")
    document = yaml.safe_load(template.read_text(encoding="utf-8"))
    try:
        config: dict[str, Any] = _walk(document, values, "")
    except _Unset as unset:
        raise TemplateError(f"{template.name} needs {unset.args[0]}: set it") from None
    return config


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m myhealth.alerting.render", description=__doc__)
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    args = parser.parse_args(argv)
    try:
        config = render(args.template, os.environ if environ is None else environ)
    except (TemplateError, OSError, yaml.YAMLError) as error:
        print(f"myhealth.alerting.render: {error}", file=sys.stderr)
        return 2
    text = f"# Rendered from {args.template.name}; edit the template, not this file.\n"
    text += yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=1000)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        receivers = {
            receiver["name"]: sorted(k for k in receiver if k.endswith("_configs"))
            for receiver in config.get("receivers", [])
        }
        print(f"wrote {args.output}: receivers {receivers}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
