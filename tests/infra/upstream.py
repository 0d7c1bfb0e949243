"""Prove our registry-module calls against the upstream interfaces (tests/data/terraform-upstream).

`terraform validate` cannot run on our modules here: it needs the AWS provider binary, which
cannot be downloaded. What it can run on is a copy of a module in which
- every registry `module` block points at a *stub*: the upstream `variables.tf` of one release
  plus an output for every upstream output (valued from a built-in `terraform_data`), so unknown
  arguments, missing required ones, type mismatches and outputs that do not exist are errors;
- every `resource`/`data` block of a provider is removed and each reference to it becomes a
  variable of type `any` (unknown at validate time, so any attribute access type-checks);
- `versions.tf` (the provider requirements) is left out.

Terraform converts an object with extra attributes to an object type silently, so a misspelt or
obsolete nested key (`eks_managed_node_groups.default.foo`) passes validation. `nested_key_errors`
checks those keys against the upstream type expression with a small parser.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

from .helpers import ENVIRONMENTS, MODULES, REPO

UPSTREAM = REPO / "tests" / "data" / "terraform-upstream"
REGISTRY_PREFIX = "terraform-aws-modules/"


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def labelled_blocks(parsed: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in parsed.get(kind, []):
        for label, body in entry.items():
            found[unquote(label)] = body
    return found


@cache
def parse_dir(directory: Path) -> dict[str, list[Any]]:
    """All top-level blocks of a directory's .tf files, merged by kind."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            for kind, entries in hcl2.load(handle).items():
                merged.setdefault(kind, []).extend(entries)
    return merged


################################################################################
# Registry sources, constraints and the vendored releases
################################################################################


@dataclass(frozen=True)
class RegistrySource:
    """`terraform-aws-modules/<name>/aws[//<subdir>]` as a repository and a path inside it."""

    repository: str  # terraform-aws-<name>
    subdir: str  # "" for the root module

    @classmethod
    def parse(cls, source: str) -> RegistrySource:
        match = re.fullmatch(r"terraform-aws-modules/([\w-]+)/aws(?://(.+))?", source)
        if match is None:
            raise ValueError(f"not a terraform-aws-modules registry source: {source!r}")
        return cls(f"terraform-aws-{match.group(1)}", match.group(2) or "")

    def releases(self) -> list[tuple[int, ...]]:
        """Vendored release tags of the repository, lowest first."""
        tags = [path.name for path in (UPSTREAM / self.repository).iterdir() if path.is_dir()]
        return sorted(version_tuple(tag) for tag in tags)

    def interface_dir(self, release: tuple[int, ...]) -> Path:
        return UPSTREAM / self.repository / tag(release) / self.subdir


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.lstrip("v").split("."))


def tag(release: tuple[int, ...]) -> str:
    return "v" + ".".join(map(str, release))


def pessimistic_range(constraint: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """`~> 21.3` allows [21.3.0, 22.0.0); `~> 4.0.1` allows [4.0.1, 4.1.0)."""
    match = re.fullmatch(r"~>\s*(\d+(?:\.\d+){1,2})", constraint)
    if match is None:
        raise ValueError(f"expected a ~> constraint, got {constraint!r}")
    parts = version_tuple(match.group(1))
    floor = parts + (0,) * (3 - len(parts))
    ceiling = (*parts[:-2], parts[-2] + 1) + (0,) * (3 - len(parts) + 1)
    return floor, ceiling


@dataclass(frozen=True)
class RegistryCall:
    module_dir: Path  # our module that makes the call
    name: str  # label of the module block
    source: RegistrySource
    constraint: str
    arguments: dict[str, Any] = field(hash=False, compare=False)


def registry_calls(module_dir: Path) -> list[RegistryCall]:
    calls = []
    for name, body in labelled_blocks(parse_dir(module_dir), "module").items():
        source = unquote(body["source"])
        if source.startswith(REGISTRY_PREFIX):
            arguments = {key: value for key, value in body.items() if not key.startswith("__")}
            calls.append(
                RegistryCall(
                    module_dir,
                    name,
                    RegistrySource.parse(source),
                    unquote(body["version"]),
                    arguments,
                )
            )
    return calls


def modules_calling_the_registry() -> list[Path]:
    return sorted(path for path in MODULES.iterdir() if path.is_dir() and registry_calls(path))


################################################################################
# The throwaway root
################################################################################

_TOP_LEVEL_BLOCK = re.compile(r'^(resource|data|ephemeral)\s+"([\w-]+)"\s+"([\w-]+)"\s*\{', re.M)
_MODULE_BLOCK = re.compile(r'^module\s+"([\w-]+)"\s*\{', re.M)


def _block_end(text: str, start: int) -> int:
    """Index just past the `}` closing the top-level block that starts at `start` (terraform fmt
    puts that brace alone at column 0, or closes an empty block on its first line)."""
    line_end = text.find("\n", start)
    line_end = len(text) if line_end == -1 else line_end
    if text[start:line_end].rstrip().endswith("{}"):
        return line_end
    match = re.compile(r"^\}[ \t]*$", re.M).search(text, start)
    if match is None:
        raise ValueError("unterminated block")
    return match.end()


def stub_variable(kind: str, type_name: str, name: str) -> str:
    prefix = "" if kind == "resource" else f"{kind}_"
    return f"stub_{prefix}{type_name}_{name}"


def write_stub(interface_dir: Path, target: Path) -> None:
    """The upstream inputs as they are, and every upstream output with an unknown value."""
    target.mkdir(parents=True)
    shutil.copyfile(interface_dir / "variables.tf", target / "variables.tf")
    outputs = labelled_blocks(parse_dir(interface_dir), "output")
    lines = ['resource "terraform_data" "this" {}', ""]
    for name in outputs:
        lines += [f'output "{name}" {{', "  value = terraform_data.this.output", "}", ""]
    (target / "outputs.tf").write_text("\n".join(lines))


_PROVIDER_BLOCK = re.compile(r'^provider\s+"[\w-]+"\s*\{', re.M)


def build_root(
    module_dir: Path,
    release_of: dict[str, tuple[int, ...]],
    target: Path,
    *,
    child: bool = False,
) -> None:
    """Copy `module_dir` into `target` with every registry call pointed at a stub of the release
    `release_of[repository]`, and provider resources and data sources turned into variables.
    `child`: the copy is called by another copied module, so the stand-in variables get a
    default (validate still treats them as unknown)."""
    target.mkdir(parents=True)
    replaced: set[tuple[str, str, str]] = set()
    texts: dict[str, str] = {}
    for path in sorted(module_dir.glob("*.tf")):
        if path.name == "versions.tf":
            continue  # provider requirements: nothing to install offline
        text = path.read_text()
        for match in reversed(list(_PROVIDER_BLOCK.finditer(text))):
            text = text[: match.start()] + text[_block_end(text, match.start()) :]
        for match in reversed(list(_TOP_LEVEL_BLOCK.finditer(text))):
            replaced.add((match.group(1), match.group(2), match.group(3)))
            text = text[: match.start()] + text[_block_end(text, match.start()) :]
        texts[path.name] = text

    calls = {call.name: call for call in registry_calls(module_dir)}
    variables = []
    for name, text in texts.items():
        for kind, type_name, label in sorted(replaced):
            reference = (
                type_name + r"\." + label
                if kind == "resource"
                else rf"{kind}\.{type_name}\.{label}"
            )
            text = re.sub(
                rf"(?<![\w.]){reference}\b",
                "var." + stub_variable(kind, type_name, label),
                text,
            )
        for match in reversed(list(_MODULE_BLOCK.finditer(text))):
            call = calls.get(match.group(1))
            if call is None:
                continue
            end = _block_end(text, match.start())
            block = text[match.start() : end]
            stub = f"./stubs/{call.name}"
            block = re.sub(r'(?m)^(\s*source\s*=\s*)"[^"]*"', rf'\1"{stub}"', block, count=1)
            block = re.sub(r'(?m)^\s*version\s*=\s*"[^"]*"\n', "", block, count=1)
            text = text[: match.start()] + block + text[end:]
            write_stub(
                call.source.interface_dir(release_of[call.source.repository]),
                target / "stubs" / call.name,
            )
        (target / name).write_text(text)
    for kind, type_name, label in sorted(replaced):
        variables.append(
            f'variable "{stub_variable(kind, type_name, label)}" {{\n'
            f'  description = "Stands in for {kind} {type_name}.{label}"\n'
            "  type        = any\n" + ("  default     = null\n" if child else "") + "}\n"
        )
    (target / "stubbed_resources.tf").write_text("\n".join(variables))


def build_tree(end_index: int, target: Path) -> dict[str, Path]:
    """Every module and environment root copied as by `build_root`, in the same layout, with each
    registry module at its lowest (`end_index` 0) or highest (-1) vendored release: validating a
    root then checks the types across our own modules too. Returns the roots by environment."""
    for directory in sorted(path for path in MODULES.iterdir() if path.is_dir()):
        releases = {
            call.source.repository: call.source.releases()[end_index]
            for call in registry_calls(directory)
        }
        build_root(directory, releases, target / "modules" / directory.name, child=True)
    roots = {}
    for directory in sorted(path for path in ENVIRONMENTS.iterdir() if path.is_dir()):
        roots[directory.name] = target / "environments" / directory.name
        build_root(directory, {}, roots[directory.name])
    return roots


################################################################################
# Nested keys of object-typed inputs
################################################################################

Type = tuple[Any, ...]  # ("any",) ("string",) ("list", T) ("map", T) ("object", {key: T})


class _TypeParser:
    """Terraform type expressions as python-hcl2 prints them: `map(object({a = string, ...}))`."""

    TOKEN = re.compile(r'\s*(?:([A-Za-z_][\w-]*)|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?)|(.))')

    def __init__(self, text: str) -> None:
        self.tokens = [m.group(m.lastindex or 0) for m in self.TOKEN.finditer(text) if m.lastindex]
        self.position = 0

    def peek(self) -> str:
        return self.tokens[self.position] if self.position < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if expected is not None and token != expected:
            raise ValueError(f"expected {expected!r} at token {self.position}, got {token!r}")
        self.position += 1
        return token

    def parse(self) -> Type:
        name = self.take()
        if name in ("string", "number", "bool", "any"):
            return (name,)
        if name in ("list", "set", "map"):
            self.take("(")
            inner = self.parse()
            self.take(")")
            return ("map" if name == "map" else "list", inner)
        if name == "tuple":
            self.take("(")
            self.take("[")
            while self.peek() != "]":
                self.parse()
                if self.peek() == ",":
                    self.take(",")
            self.take("]")
            self.take(")")
            return ("any",)  # we pass no tuples
        if name == "object":
            self.take("(")
            self.take("{")
            attributes: dict[str, Type] = {}
            while self.peek() != "}":
                key = self.take().strip('"')
                self.take("=")
                attributes[key] = self.attribute()
                if self.peek() == ",":
                    self.take(",")
            self.take("}")
            self.take(")")
            return ("object", attributes)
        raise ValueError(f"unknown type constructor {name!r}")

    def attribute(self) -> Type:
        if self.peek() != "optional":
            return self.parse()
        self.take("optional")
        self.take("(")
        inner = self.parse()
        if self.peek() == ",":
            self.take(",")
            self.skip_expression()
        self.take(")")
        return inner

    def skip_expression(self) -> None:
        """The default of optional(T, default): skip it up to the closing parenthesis."""
        depth = 0
        while True:
            token = self.peek()
            if token in "([{" and token:
                depth += 1
            elif token in ")]}" and token:
                if depth == 0:
                    return
                depth -= 1
            self.take()


def parse_type(expression: str) -> Type:
    text = expression.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return _TypeParser(text).parse()


def input_types(interface_dir: Path) -> dict[str, Type]:
    types = {}
    for name, body in labelled_blocks(parse_dir(interface_dir), "variable").items():
        types[name] = parse_type(body["type"]) if "type" in body else ("any",)
    return types


_FOR_BODY = re.compile(
    r"^\$\{[\[{]for\s.+?:\s*(?:[^=]+?=>)?\s*(\{.*\})\s*(?:if\s[^}]*)?[\]}]\}$", re.S
)


def _comprehension_body(value: str) -> Any:
    """The element of `{for k, v in x : k => {...}}` / `[for v in x : {...}]`, parsed; None when
    the expression is anything else (a reference or a function call: not checkable)."""
    match = _FOR_BODY.match(value)
    if match is None:
        return None
    try:
        return hcl2.loads(f"element = {match.group(1)}\n")["element"]
    except Exception:
        return None


def nested_key_errors(value: Any, expected: Type, path: str) -> list[str]:
    """Keys Terraform would drop silently (not in the object type) and shape mismatches."""
    kind = expected[0]
    if kind in ("any", "string", "number", "bool"):
        return []
    if isinstance(value, str):
        body = _comprehension_body(value)
        if body is None:
            return []
        if kind == "object":
            return nested_key_errors(body, expected, path)
        return nested_key_errors(body, expected[1], f"{path}[*]")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path}: an object is required, got {type(value).__name__}"]
        attributes: dict[str, Type] = expected[1]
        errors = []
        for key, item in value.items():
            if key.startswith("__"):
                continue
            key = unquote(key)
            if key not in attributes:
                errors.append(f"{path}.{key}: not an attribute of the upstream type")
            else:
                errors += nested_key_errors(item, attributes[key], f"{path}.{key}")
        return errors
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: a map is required, got {type(value).__name__}"]
        return [
            error
            for key, item in value.items()
            if not key.startswith("__")
            for error in nested_key_errors(item, expected[1], f"{path}.{unquote(key)}")
        ]
    if not isinstance(value, list):
        return [f"{path}: a list is required, got {type(value).__name__}"]
    return [
        error
        for index, item in enumerate(value)
        for error in nested_key_errors(item, expected[1], f"{path}[{index}]")
    ]
