"""Write (or, with --check, compare) the provisioned dashboard files from their Python specs.

python -m myhealth.dashboards.generate observability/grafana/dashboards
python -m myhealth.dashboards.generate --check observability/grafana/dashboards
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import activity, overview, readiness, service_health, sleep, today
from .kit import Spec, build

# File name → the function describing that dashboard. One file per dashboard, fixed uids.
DASHBOARDS: dict[str, Callable[[], Spec]] = {
    "activity.json": activity.spec,
    "oura-overview.json": overview.spec,
    "readiness.json": readiness.spec,
    "service-health.json": service_health.spec,
    "sleep.json": sleep.spec,
    "today.json": today.spec,
}


def render(spec: Spec) -> str:
    """The file's text: the SDK's JSON, two-space indented, newline-terminated."""
    return json.dumps(build(spec), indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    return {name: render(make()) for name, make in DASHBOARDS.items()}


def differences(directory: Path) -> list[str]:
    """What differs between the generated dashboards and the files in `directory`."""
    problems: list[str] = []
    expected = rendered()
    present = {path.name for path in directory.glob("*.json")}
    for name in sorted(present - expected.keys()):
        problems.append(f"{name}: not generated (delete it or add it to DASHBOARDS)")
    for name, text in sorted(expected.items()):
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from what the generator writes")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("directory", type=Path, help="observability/grafana/dashboards")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    directory: Path = args.directory
    if args.check:
        problems = differences(directory)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `make dashboards` and commit the result", file=sys.stderr)
        return 1 if problems else 0
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (directory / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
