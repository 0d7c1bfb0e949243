"""Every call of a terraform-aws-modules module, proven against that module's real interface at the
lowest and the highest release its `~>` constraint allows (vendored in
tests/data/terraform-upstream). The real `terraform init -backend=false && terraform validate`
runs on a copy of each of our modules whose registry calls point at stubs carrying the upstream
`variables.tf` and outputs (see tests/infra/upstream.py); nested keys of object-typed inputs,
which Terraform drops silently, are checked by a parser."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import upstream
from .helpers import MODULES, tool, tool_env

MODULE_DIRS = upstream.modules_calling_the_registry()
ENDS = ("lowest", "highest")
CALLS = [call for directory in MODULE_DIRS for call in upstream.registry_calls(directory)]
META_ARGUMENTS = {"source", "version", "count", "for_each", "depends_on", "providers"}


@dataclass(frozen=True)
class Validation:
    returncode: int
    output: str


Validator = Callable[[Path], Validation]


def releases_at(directory: Path, end: str) -> dict[str, tuple[int, ...]]:
    index = 0 if end == "lowest" else -1
    return {
        call.source.repository: call.source.releases()[index]
        for call in upstream.registry_calls(directory)
    }


def validate(root: Path, terraform: str, cli_config: Path) -> Validation:
    env = {**tool_env(), "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1"}
    output = []
    for argv in (
        ["init", "-backend=false", "-input=false", "-no-color"],
        ["validate", "-no-color"],
    ):
        result = subprocess.run(
            [terraform, *argv],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output.append(result.stdout + result.stderr)
        if result.returncode != 0:
            return Validation(result.returncode, "\n".join(output))
    return Validation(0, "\n".join(output))


@pytest.fixture(scope="session")
def validate_root(tmp_path_factory: pytest.TempPathFactory) -> Validator:
    terraform = tool("terraform")
    cli_config = tmp_path_factory.mktemp("terraform-cli") / "terraformrc"
    cli_config.write_text("# no plugin installation: the stubs need only built-in providers\n")

    def run(root: Path) -> Validation:
        return validate(root, terraform, cli_config)

    return run


@pytest.fixture(scope="session")
def validations(
    tmp_path_factory: pytest.TempPathFactory, validate_root: Validator
) -> dict[tuple[str, str], Validation]:
    """All module x end validations, two at a time (the machine has two cores)."""
    base = tmp_path_factory.mktemp("upstream-roots")
    jobs = {}
    for directory in MODULE_DIRS:
        for end in ENDS:
            root = base / f"{directory.name}-{end}"
            upstream.build_root(directory, releases_at(directory, end), root)
            jobs[(directory.name, end)] = root
    for end in ENDS:
        roots = upstream.build_tree(0 if end == "lowest" else -1, base / f"tree-{end}")
        for environment, root in roots.items():
            jobs[(f"environments/{environment}", end)] = root
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(validate_root, jobs.values()), strict=True))


def test_every_module_that_calls_the_registry_is_covered() -> None:
    callers = {path.name for path in MODULES.iterdir() if "terraform-aws-modules/" in read_tf(path)}

    assert callers == {path.name for path in MODULE_DIRS}
    assert len(CALLS) >= 12


def read_tf(directory: Path) -> str:
    return "".join(path.read_text() for path in directory.glob("*.tf"))


@pytest.mark.parametrize("call", CALLS, ids=lambda call: f"{call.module_dir.name}:{call.name}")
def test_vendored_releases_are_the_ends_of_the_constraint(call: upstream.RegistryCall) -> None:
    """The lowest vendored release is the constraint's floor and the highest is inside it, so
    'both ends' means what it says; moving a constraint without vendoring its releases fails."""
    floor, ceiling = upstream.pessimistic_range(call.constraint)
    releases = call.source.releases()

    assert releases[0] == floor, f"vendor {upstream.tag(floor)} of {call.source.repository}"
    assert releases[-1] < ceiling, f"{upstream.tag(releases[-1])} is outside {call.constraint}"
    for release in (releases[0], releases[-1]):
        interface = call.source.interface_dir(release)
        for name in ("variables.tf", "outputs.tf", "versions.tf"):
            assert (interface / name).is_file(), f"{interface}/{name}"


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda path: path.name)
def test_terraform_validate_passes_against_the_upstream_interface(
    directory: Path, end: str, validations: dict[tuple[str, str], Validation]
) -> None:
    """Unknown or missing arguments, type mismatches and outputs that upstream does not have
    (`module.eks.no_such_output`) all fail `terraform validate` here."""
    result = validations[(directory.name, end)]

    assert result.returncode == 0, result.output[-4000:]
    assert "The configuration is valid" in result.output


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_each_environment_validates_as_a_whole(
    environment: str, end: str, validations: dict[tuple[str, str], Validation]
) -> None:
    """The root with every module of ours (and the stubs under them): types flowing between our
    own modules (outputs into inputs, `helm_values`) are checked too."""
    result = validations[(f"environments/{environment}", end)]

    assert result.returncode == 0, result.output[-4000:]
    assert "The configuration is valid" in result.output


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("call", CALLS, ids=lambda call: f"{call.module_dir.name}:{call.name}")
def test_nested_keys_of_object_inputs_exist_upstream(call: upstream.RegistryCall, end: str) -> None:
    release = call.source.releases()[0 if end == "lowest" else -1]
    types = upstream.input_types(call.source.interface_dir(release))
    errors = []
    for argument, value in call.arguments.items():
        if argument in META_ARGUMENTS:
            continue
        assert argument in types, f"{argument} is not an input of {upstream.tag(release)}"
        errors += upstream.nested_key_errors(value, types[argument], argument)

    assert errors == []


################################################################################
# The checks catch what they are for
################################################################################

KMS_KEY_STATEMENTS_AS_A_MAP = """
module "kms" {
  source  = "terraform-aws-modules/kms/aws"
  version = "~> 4.0"

  description = "the call as modules/api-gateway made it before the fix"
  key_statements = {
    cloudwatch_logs = {
      sid       = "CloudWatchLogsUseOfTheKey"
      actions   = ["kms:Decrypt*"]
      resources = ["*"]
      principals = [{
        type        = "Service"
        identifiers = ["logs.us-east-1.amazonaws.com"]
      }]
    }
  }
}
"""


@pytest.mark.parametrize("end", ENDS)
def test_the_kms_key_statements_map_fails_validation(
    tmp_path: Path, end: str, validate_root: Validator
) -> None:
    module = tmp_path / "module"
    module.mkdir()
    (module / "main.tf").write_text(KMS_KEY_STATEMENTS_AS_A_MAP)
    root = tmp_path / "root"
    upstream.build_root(module, releases_at(module, end), root)

    result = validate_root(root)

    assert result.returncode != 0
    assert "list of object required" in result.output


def test_an_output_upstream_does_not_have_fails_validation(
    tmp_path: Path, validate_root: Validator
) -> None:
    module = tmp_path / "module"
    shutil.copytree(MODULES / "ecr", module)
    with (module / "outputs.tf").open("a") as handle:
        handle.write('\noutput "gone" {\n  value = module.ecr.repository_uri\n}\n')
    root = tmp_path / "root"
    upstream.build_root(module, releases_at(module, "highest"), root)

    result = validate_root(root)

    assert result.returncode != 0
    assert "repository_uri" in result.output


def test_the_parser_finds_keys_terraform_would_drop() -> None:
    """Extra keys in an object-typed input (here a node group and a for-expression's element)."""
    release = upstream.RegistrySource.parse("terraform-aws-modules/eks/aws").releases()[-1]
    types = upstream.input_types(
        upstream.RegistrySource("terraform-aws-eks", "").interface_dir(release)
    )
    node_groups = {"default": {"instance_types": ["t3.medium"], "min_sise": 2}}
    access_entries = (
        "${{for name, arn in var.admins : name => {principal_arn = arn, kubernetes_group = []}}}"
    )

    assert upstream.nested_key_errors(
        node_groups, types["eks_managed_node_groups"], "eks_managed_node_groups"
    ) == ["eks_managed_node_groups.default.min_sise: not an attribute of the upstream type"]
    assert upstream.nested_key_errors(
        access_entries, types["access_entries"], "access_entries"
    ) == ["access_entries[*].kubernetes_group: not an attribute of the upstream type"]


def test_the_parser_reads_every_vendored_type() -> None:
    """Every type expression of every vendored interface parses (a parser gap would otherwise
    hide keys)."""
    interfaces = {path.parent for path in upstream.UPSTREAM.rglob("variables.tf")}
    parsed = 0
    for interface in sorted(interfaces):
        parsed += len(upstream.input_types(interface))

    assert parsed > 1000


def test_pessimistic_ranges() -> None:
    assert upstream.pessimistic_range("~> 21.3") == ((21, 3, 0), (22, 0, 0))
    assert upstream.pessimistic_range("~> 4.0.1") == ((4, 0, 1), (4, 1, 0))
    with pytest.raises(ValueError, match="expected a ~> constraint"):
        upstream.pessimistic_range(">= 1.0")


def test_vendored_files_match_the_blob_hashes_in_their_readme() -> None:
    """The provenance table is the record of what was copied: every file is listed with its git
    blob id and unmodified."""
    readme = (upstream.UPSTREAM / "README.md").read_text()
    listed = dict(
        (path, blob)
        for blob, path in re.findall(r"^\| `([0-9a-f]{40})` \| `([^`]+)` \|$", readme, re.M)
    )
    files = sorted(
        str(path.relative_to(upstream.UPSTREAM)) for path in upstream.UPSTREAM.rglob("*.tf")
    )

    assert sorted(listed) == files
    for name in files:
        data = (upstream.UPSTREAM / name).read_bytes()
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
        assert listed[name] == blob, name
