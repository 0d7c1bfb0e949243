"""The README quick start and docs/oura-setup.md name only settings that exist: every
environment variable they mention is read by the code (a settings field in
myhealth.platform.config), by docker-compose.yml, or is a Makefile variable or Dockerfile
build argument; and every variable of the README's `.env` example is one docker-compose.yml
actually reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from myhealth.platform import config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/oura-setup.md")
# An upper-case name with an underscore, alone (not part of a longer word or path).
VARIABLE = re.compile(r"(?<![\w/.-])([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])(?![\w/-])")


def settings_fields() -> set[str]:
    fields: set[str] = set()
    for value in vars(config).values():
        if isinstance(value, type) and issubclass(value, BaseSettings):
            fields |= set(value.model_fields)
    return fields


def compose_variables() -> set[str]:
    text = (ROOT / "docker-compose.yml").read_text()
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))


def makefile_variables() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", text))


def dockerfile_arguments() -> set[str]:
    text = (ROOT / "Dockerfile").read_text()
    return set(re.findall(r"^ARG ([A-Z][A-Z0-9_]*)", text, flags=re.MULTILINE))


def named_in(document: str) -> set[str]:
    return set(VARIABLE.findall((ROOT / document).read_text()))


@pytest.mark.parametrize("document", DOCS)
def test_every_variable_the_setup_docs_name_exists(document: str) -> None:
    known = settings_fields() | compose_variables() | makefile_variables() | dockerfile_arguments()
    named = named_in(document)
    assert "DATABASE_URL" in named  # the pattern finds them
    assert not named - known, f"{document} names settings nothing reads: {named - known}"


def test_the_oauth_settings_are_documented() -> None:
    setup = named_in("docs/oura-setup.md")
    for name in ("OURA_AUTHORIZE_URL", "OURA_TOKEN_URL", "OURA_CLIENT_ID", "OURA_CLIENT_SECRET"):
        assert name in setup, name
    for name in ("PROCESSOR_URL", "INGEST_TOKEN"):  # what `collect` needs
        assert name in setup, name


def readme_env_example() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    block = next(
        part for part in text.split("```sh\n")[1:] if part.startswith("OURA_API_BASE_URL=")
    )
    lines = block.split("```")[0].splitlines()
    return {
        line.split("=", 1)[0]: line.split("=", 1)[1].split("#")[0].strip()
        for line in lines
        if "=" in line
    }


def test_the_readme_env_example_holds_only_what_compose_reads() -> None:
    example = readme_env_example()
    assert "OURA_AUTHORIZE_URL" in example
    assert "GRAFANA_ADMIN_PASSWORD" in example
    assert not set(example) - compose_variables()
    # `auth login` stores tokens in the database and never prints one.
    assert "OURA_REFRESH_TOKEN" not in example


def test_no_doc_says_auth_login_prints_a_refresh_token() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for line in path.read_text().splitlines():
            if "OURA_REFRESH_TOKEN" in line and "auth login" in line:
                assert "from `myhealth auth login`" not in line, (path.name, line)
