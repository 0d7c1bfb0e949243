"""What `terraform validate` would check about the wiring between roots and our own modules, done
offline (validate needs the provider binaries, which cannot be downloaded here): every input an
environment passes is declared by the module, every required input is passed, every referenced
module output exists, every `var.x` used is declared, and the file set and documentation of
each module follow the terraform-aws-modules layout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from .helpers import ENVIRONMENTS, MODULES, REPO, TERRAFORM, WORKFLOWS

MODULE_DIRS = sorted(path for path in MODULES.iterdir() if path.is_dir())
ENVIRONMENT_DIRS = sorted(path for path in ENVIRONMENTS.iterdir() if path.is_dir())
ALL_DIRS = MODULE_DIRS + ENVIRONMENT_DIRS
META_ARGUMENTS = {"source", "version", "count", "for_each", "depends_on", "providers"}
SHARED_ROOT_FILES = ["outputs.tf", "providers.tf", "variables.tf", "versions.tf"]


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def blocks(parsed: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """`{label: body}` for every `kind "label" {…}` block (python-hcl2 keeps labels quoted)."""
    found: dict[str, dict[str, Any]] = {}
    for entry in parsed.get(kind, []):
        for label, body in entry.items():
            found[unquote(label)] = body
    return found


@dataclass(frozen=True)
class Directory:
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    modules: dict[str, dict[str, Any]]
    text: str  # all .tf files, comments removed


@cache
def load(directory: Path) -> Directory:
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    modules: dict[str, dict[str, Any]] = {}
    texts = []
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle)
        variables |= blocks(parsed, "variable")
        outputs |= blocks(parsed, "output")
        modules |= blocks(parsed, "module")
        texts.append(re.sub(r"(?m)^\s*#.*$|\s#.*$", "", path.read_text()))
    return Directory(variables, outputs, modules, "\n".join(texts))


def local_module_calls() -> list[tuple[Path, str, Path]]:
    calls = []
    for directory in ALL_DIRS:
        for name, body in load(directory).modules.items():
            source = unquote(body["source"])
            if source.startswith("./") or source.startswith("../"):
                calls.append((directory, name, (directory / source).resolve()))
    return calls


CALLS = local_module_calls()


def call_id(call: tuple[Path, str, Path]) -> str:
    return f"{call[0].relative_to(TERRAFORM)}:{call[1]}"


def test_every_environment_calls_every_module_that_exists() -> None:
    called = {target for _, _, target in CALLS}

    assert called == set(MODULE_DIRS)


@pytest.mark.parametrize("call", CALLS, ids=call_id)
def test_module_inputs_are_declared_and_required_ones_are_passed(
    call: tuple[Path, str, Path],
) -> None:
    caller, name, target = call
    assert target.is_dir(), f"{name}: source {target} does not exist"
    declared = load(target).variables
    passed = {
        key
        for key in load(caller).modules[name]
        if key not in META_ARGUMENTS and not key.startswith("__")  # hcl2's __is_block__ etc.
    }
    required = {var for var, body in declared.items() if "default" not in body}

    assert passed - declared.keys() == set(), "inputs the module does not declare"
    assert required - passed == set(), "required inputs not passed"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=lambda path: str(path.relative_to(TERRAFORM)))
def test_referenced_outputs_of_local_modules_exist(directory: Path) -> None:
    loaded = load(directory)
    targets = {
        name: (directory / unquote(body["source"])).resolve()
        for name, body in loaded.modules.items()
        if unquote(body["source"]).startswith(".")
    }
    missing = []
    for match in re.finditer(r"\bmodule\.(\w+)(?:\[[^\]]*\])?\.(\w+)", loaded.text):
        module, output = match.groups()
        assert module in loaded.modules, f"module.{module} is referenced but never called"
        if module in targets and output not in load(targets[module]).outputs:
            missing.append(f"module.{module}.{output}")

    assert missing == []


@pytest.mark.parametrize("directory", ALL_DIRS, ids=lambda path: str(path.relative_to(TERRAFORM)))
def test_used_variables_are_declared_and_declared_ones_are_used(directory: Path) -> None:
    loaded = load(directory)
    used = set(re.findall(r"\bvar\.(\w+)", loaded.text))

    assert used - loaded.variables.keys() == set(), "var.x used but not declared"
    assert loaded.variables.keys() - used == set(), "declared but never used"


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda path: path.name)
def test_modules_have_the_standard_file_set(directory: Path) -> None:
    for name in ["main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"]:
        assert (directory / name).is_file(), f"{directory.name}/{name} is missing"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=lambda path: str(path.relative_to(TERRAFORM)))
def test_variables_are_typed_and_described_and_outputs_described(directory: Path) -> None:
    loaded = load(directory)
    for name, body in loaded.variables.items():
        assert "type" in body, f"variable {name} has no type"
        assert unquote(body.get("description", "")).strip(), f"variable {name} has no description"
    for name, body in loaded.outputs.items():
        assert unquote(body.get("description", "")).strip(), f"output {name} has no description"


def test_registry_modules_are_pinned_with_a_pessimistic_constraint() -> None:
    registry_calls: list[tuple[str, str, str]] = []
    for directory in ALL_DIRS:
        for name, body in load(directory).modules.items():
            source = unquote(body["source"])
            if not source.startswith("."):
                version = str(unquote(body.get("version", "")))
                registry_calls.append((f"{directory.name}/{name}", source, version))

    assert registry_calls, "expected thin wrappers over terraform-aws-modules"
    for call, source, version in registry_calls:
        assert source.startswith("terraform-aws-modules/"), f"{call}: {source}"
        assert re.fullmatch(r"~> \d+\.\d+", version), f"{call}: {version!r}"


def test_environment_roots_are_thin() -> None:
    """A root is its settings (main.tf: one call of modules/myhealth) and backend.hcl; the
    provider setup and the re-exported outputs are the same everywhere."""
    dev = ENVIRONMENTS / "dev"
    for environment in ENVIRONMENT_DIRS:
        for name in SHARED_ROOT_FILES:
            assert (environment / name).read_text() == (dev / name).read_text(), (
                f"{environment.name}/{name} drifted from dev/{name}"
            )
        assert sorted(p.name for p in environment.glob("*.tf")) == sorted(
            ["main.tf", *SHARED_ROOT_FILES]
        )
        assert (environment / "backend.hcl").is_file()
        modules = load(environment).modules
        assert list(modules) == ["myhealth"]
        assert unquote(modules["myhealth"]["source"]) == "../../modules/myhealth"


def test_providers_are_pinned_in_the_roots_and_the_backend_locks() -> None:
    with (ENVIRONMENTS / "dev" / "versions.tf").open() as handle:
        terraform = hcl2.load(handle)["terraform"][0]
    providers = terraform["required_providers"][0]
    backend = blocks(terraform, "backend")["s3"]

    for name, spec in providers.items():
        if name.startswith("__"):
            continue
        assert unquote(spec["version"]).startswith("~> "), f"provider {name} not pinned with ~>"
    assert backend["use_lockfile"] is True
    assert backend["encrypt"] is True


@pytest.mark.parametrize("environment", ENVIRONMENT_DIRS, ids=lambda path: path.name)
def test_each_root_is_the_environment_its_folder_names(environment: Path) -> None:
    call = load(environment).modules["myhealth"]
    assert unquote(call["environment"]) == environment.name
    state_bucket = unquote(call["state_bucket"])
    assert f'bucket = "{state_bucket}"' in (environment / "backend.hcl").read_text()


def test_scripts_and_workflows_read_outputs_the_roots_declare() -> None:
    """`terraform output NAME` in a script or workflow names an output every root declares."""
    pattern = re.compile(r"terraform\b[^\n]*\boutput\s+(?:-(?:raw|json)\s+)?([a-z_]+)")
    texts = [p.read_text() for p in (REPO / "scripts").glob("*.sh")]
    texts += [p.read_text() for p in WORKFLOWS.glob("*.yml")]
    used = {name for text in texts for name in pattern.findall(text)}
    assert used, "no terraform output is read anywhere: the pattern is stale"
    for environment in sorted(p for p in ENVIRONMENTS.iterdir() if p.is_dir()):
        declared = load(environment).outputs
        assert used <= set(declared), (environment.name, sorted(used - set(declared)))
