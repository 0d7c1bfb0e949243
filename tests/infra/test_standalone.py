"""The repository stands alone: no tracked file reads or cites a path outside the checkout.

A fresh `git clone` has nothing beside it. A test that reads a folder next to the checkout, a
comment that sends the reader to a reference folder on the authors' machines, or an absolute
path of one machine is a broken link (or a failing test) for everyone else. Facts we rely on
live in `docs/` (Oura's API: `docs/oura-api.md`); files tests need are vendored under
`tests/data/` with a provenance README.

What counts as a path, and why it is not a plain grep for the folder's name (this file spells
every example as a template — `<up>` for the parent folder, `<ref>` for the reference folder's
name, `<slash>` for a leading slash — so that it holds no such path itself):
- `<up>/<ref>` (a folder beside the checkout) and `$VAR/<ref>/...` are paths wherever they are.
- `<ref>/` that starts a word is a path when it is quoted or in a code span, or clearly
  continues as a path (a second segment, or a file name with an extension). A slash between two
  words in running prose ("<ref>/read-only settings") is not. `src/x/<ref>/...` (preceded by
  `/`) is a folder inside the repository, not a reference outside it.
- Absolute paths of a machine: `<slash>work`, `<slash>root`, `<slash>home/<user>/`,
  `<slash>Users/<user>/` starting a word (so URLs with such a segment and names like
  `root-cert.pem` pass). `/tmp` is not one machine's path and stays allowed.
- Citations of the reference documents that are not in the repository (the product contract
  and the Oura wire-format notes, by file name or "§" section), and the environment variable
  that used to point tests at the reference folder.

Allowlist: only the provenance READMEs of vendored test data (`tests/data/<set>/README.md`) may
name the reference folder they were copied from; they, too, may not hold absolute paths.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import REPO

# This module spells out the patterns it looks for (in its examples), so it does not scan itself.
THIS_FILE = Path(__file__).resolve().relative_to(REPO).as_posix()

# The reference folder's name (only ever beside the authors' checkouts).
REF = "shared"
# Top-level folders that name one machine's layout, and the two home-directory roots.
MACHINE_ROOTS = ("work", "root")
HOME_ROOTS = ("home", "Users")


def sample(template: str) -> str:
    """An example line from its template (see the module docstring)."""
    return template.replace("<up>", "..").replace("<ref>", REF).replace("<slash>", "/")


# A path token starts after whitespace, an opening quote/bracket, `=`, `:` or at the line start.
_START = r"(?<![\w./~-])"


@dataclass(frozen=True)
class Rule:
    code: str
    pattern: re.Pattern[str]
    why: str
    # Substrings every match contains: a fast `in` test skips most files (MBs of CRDs).
    hints: tuple[str, ...]
    provenance_may_cite: bool = False


RULES = (
    Rule(
        "sibling-folder",
        re.compile(
            rf"\.\./+{REF}\b"
            rf"|(?:\$\w+|\$\{{\w+\}}|\$\([^)]*\))/{REF}\b"  # $ROOT/<ref>
            rf"|/\s*[\"']{REF}[\"']"  # REPO.parent / "<ref>"
        ),
        "reads or cites a folder beside the checkout",
        hints=(REF,),
        provenance_may_cite=True,
    ),
    Rule(
        "reference-folder",
        re.compile(
            rf"(?<=[`'\"]){REF}/[\w.-]"  # quoted or in a code span
            rf"|{_START}{REF}/[\w-]+(?:/|\.[A-Za-z]\w*\b)"  # a second segment or a file name
        ),
        "cites the reference folder that exists only beside the authors' checkouts",
        hints=(f"{REF}/",),
        provenance_may_cite=True,
    ),
    Rule(
        "machine-path",
        re.compile(
            rf"{_START}/(?:{'|'.join(MACHINE_ROOTS)})(?=[/`'\")\]\s:;,]|$)"
            rf"|{_START}/(?:{'|'.join(HOME_ROOTS)})/[\w.-]+/"
        ),
        "names an absolute path of one machine",
        hints=tuple(f"/{root}" for root in (*MACHINE_ROOTS, *HOME_ROOTS)),
    ),
    Rule(
        "reference-document",
        re.compile(
            r"\b(?:spec|REFERENCE)\.md\b|\b(?:spec|REFERENCE|product contract)\s*§",
            re.IGNORECASE,
        ),
        "cites a document that is not in the repository (cite its page under docs/ instead)",
        hints=(".md", ".MD", "§"),
    ),
    Rule(
        "shared-dir-variable",
        re.compile(r"\bMYHEALTH_SHARED_DIR\b"),
        "reads the variable that pointed tests at the reference folder",
        hints=("MYHEALTH_SHARED_DIR",),
    ),
)
PROVENANCE_READMES = "tests/data/*/README.md"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    code: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code}: {self.text.strip()[:120]}"


def findings_in_text(path: str, text: str) -> list[Finding]:
    provenance = fnmatch.fnmatch(path, PROVENANCE_READMES)
    # Whole-text search first (most files match nothing), then line by line for the report.
    rules = [
        rule
        for rule in RULES
        if not (provenance and rule.provenance_may_cite)
        and any(hint in text for hint in rule.hints)
        and rule.pattern.search(text)
    ]
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        found += [
            Finding(path, number, rule.code, line) for rule in rules if rule.pattern.search(line)
        ]
    return found


def tracked_files(repo: Path) -> list[str]:
    listing = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, check=True
    ).stdout
    return [name for name in listing.decode().split("\0") if name]


def scan(repo: Path, skip: frozenset[str] = frozenset()) -> list[Finding]:
    """Every finding in the tracked text files of `repo` (binary files have a NUL byte)."""
    found: list[Finding] = []
    for name in tracked_files(repo):
        file = repo / name
        if name in skip or not file.is_file():  # a tracked file deleted in the work tree
            continue
        data = file.read_bytes()
        if b"\0" in data[:8192]:
            continue
        found.extend(findings_in_text(name, data.decode("utf-8", errors="replace")))
    return found


def test_no_tracked_file_reads_or_cites_a_path_outside_the_repository() -> None:
    found = scan(REPO, skip=frozenset({THIS_FILE}))

    assert not found, "paths outside the repository:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ('CRDS = Path(os.environ.get("X", "<up>/<ref>/crds"))', "sibling-folder"),
        ("ROOT=$(git rev-parse --show-toplevel)/<up>/<ref>", "sibling-folder"),
        ('cp -r "$REFERENCE/<ref>/oura" tests/data/', "sibling-folder"),
        ('CRDS = REPO.parent / "<ref>" / "crds"', "sibling-folder"),
        ("evidence in <ref>/oura/facts.txt", "reference-folder"),
        ("copied from `<ref>/oura`", "reference-folder"),
        ("schemas from '<ref>/crds'", "reference-folder"),
        ("see <ref>/toolchain.md", "reference-folder"),
        ("Wire details (see `<slash>work/<ref>/oura/x.md`)", "machine-path"),
        ('"HOME": os.environ.get("HOME", "<slash>root"),', "machine-path"),
        ("PATH=<slash>root/.local/bin:$PATH", "machine-path"),
        ("open('<slash>home/alice/notes.txt')", "machine-path"),
        ("cd <slash>Users/bob/src/myhealth", "machine-path"),
        ("cd <slash>work && make test", "machine-path"),
        ("The counts of spec.md §5.", "reference-document"),
        ("(REFERENCE.md §7.2)", "reference-document"),
        ('"""`myhealth collect`: one sync run (spec §2, §7)."""', "reference-document"),
        ("All configuration (product contract §3)", "reference-document"),
        ('os.environ["MYHEALTH_SHARED_DIR"]', "shared-dir-variable"),
    ],
)
def test_a_path_outside_the_repository_is_flagged(line: str, code: str) -> None:
    assert [finding.code for finding in findings_in_text("src/x.py", sample(line))] == [code]


@pytest.mark.parametrize(
    "line",
    [
        "Grafana folders are <ref>/read-only for viewers.",
        "a pre-<ref>/rotated key",
        "src/myhealth/platform/<ref>/config.py",  # a folder inside the repository
        "https://example.com<slash>work/<ref>/index.html",
        "caFile: {{ $dir }}<slash>root-cert.pem",
        "readOnlyRootFilesystem: true",
        '"tooltip": {"shared": true}',
        "git clone <repo> /tmp/x && cd /tmp/x",
        "~/.config/myhealth/tokens.json",
        "the OpenAPI spec (openapi.json) and docs/oura-api.md#date-windows",
        "spec:\n  replicas: 2",
    ],
)
def test_innocent_text_is_not_flagged(line: str) -> None:
    assert findings_in_text("docs/x.md", sample(line)) == []


def test_provenance_readmes_may_name_their_origin_but_not_a_machine_path() -> None:
    origin = sample(
        "Copied from `<up>/<ref>/crds/` (the reference folder), see <ref>/oura/README.md."
    )

    assert findings_in_text("tests/data/crds/README.md", origin) == []
    assert [f.code for f in findings_in_text("tests/data/crds/x.yaml", origin)] == [
        "sibling-folder",
        "reference-folder",
    ]
    absolute = findings_in_text(
        "tests/data/crds/README.md", sample("from <slash>home/alice/<ref>/crds")
    )
    assert [finding.code for finding in absolute] == ["machine-path"]


def test_the_scan_reads_tracked_files_and_reports_where(tmp_path: Path) -> None:
    """A real repository: a tracked file with an outside path is found, an untracked one is
    not (the build and caches are not the repository), nor is a binary file."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "docs").mkdir()
    guide = sample("Read `<slash>home/alice/notes.md` first.")
    (tmp_path / "docs" / "guide.md").write_text(f"# Guide\n\n{guide}\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\0\0" + sample("<slash>root/").encode())
    (tmp_path / "scratch.txt").write_text(sample("<up>/<ref>/crds\n"))
    subprocess.run(["git", "-C", str(tmp_path), "add", "docs", "logo.png"], check=True)

    found = scan(tmp_path)

    assert [str(finding) for finding in found] == [f"docs/guide.md:3: machine-path: {guide}"]


# A citation of a page under docs/, optionally with a section: `docs/api.md`,
# `docs/oura-api.md#date-windows`, or inside docs/ a relative link `](oura-api.md#scopes)`.
DOCS_CITATION = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?")
RELATIVE_LINK = re.compile(r"\]\(([\w.-]+\.md)(?:#([\w-]+))?\)")


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors: lower case, punctuation dropped, spaces to dashes (code blocks skipped)."""
    anchors = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def broken_docs_citations(repo: Path, skip: frozenset[str] = frozenset()) -> list[str]:
    broken = []
    for name in tracked_files(repo):
        file = repo / name
        if name in skip or not file.is_file() or b"\0" in file.read_bytes()[:8192]:
            continue
        text = file.read_text(errors="replace")
        citations = DOCS_CITATION.findall(text)
        if name.startswith("docs/"):
            citations += RELATIVE_LINK.findall(text)
        for page, anchor in citations:
            target = repo / "docs" / page
            if not target.is_file():
                broken.append(f"{name}: docs/{page} does not exist")
            elif anchor and anchor not in heading_anchors(target.read_text()):
                broken.append(f"{name}: docs/{page} has no section #{anchor}")
    return sorted(set(broken))


def test_every_cited_docs_page_and_section_exists() -> None:
    """Comments now cite docs/ instead of documents outside the repository; those citations
    must not rot either."""
    broken = broken_docs_citations(REPO, skip=frozenset({THIS_FILE}))

    assert not broken, "\n".join(broken)


def test_a_broken_docs_citation_is_reported(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "api.md").write_text("# API\n\n## Errors\n\nSee [setup](setup.md).\n")
    (tmp_path / "main.py").write_text("# docs/api.md#errors docs/api.md#limits docs/gone.md\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "docs", "main.py"], check=True)

    assert broken_docs_citations(tmp_path) == [
        "docs/api.md: docs/setup.md does not exist",
        "main.py: docs/api.md has no section #limits",
        "main.py: docs/gone.md does not exist",
    ]


def test_heading_anchors_follow_github() -> None:
    page = "# `myhealth collect`\n## 5. Values for the environment\n```\n# not a heading\n```\n"

    assert heading_anchors(page) == {"myhealth-collect", "5-values-for-the-environment"}
