"""Shared helpers for the infrastructure checks: repository paths and the installed tools."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
MODULES = TERRAFORM / "modules"
ENVIRONMENTS = TERRAFORM / "environments"
WORKFLOWS = REPO / ".github" / "workflows"
TOOLS_BIN = REPO / ".tools" / "bin"


def tool(name: str) -> str:
    """Path of a tool installed by `make tools`; the test fails (never skips) without it."""
    path = TOOLS_BIN / name
    if not (path.exists() and os.access(path, os.X_OK)):
        pytest.fail(f"{name} is not installed in {TOOLS_BIN}: run `make tools`")
    return str(path)


def tool_env() -> dict[str, str]:
    """Environment for tool runs: .tools/bin and the venv (shellcheck for actionlint) first."""
    venv_bin = REPO / ".venv" / "bin"
    return {**os.environ, "PATH": f"{TOOLS_BIN}:{venv_bin}:{os.environ.get('PATH', '')}"}
