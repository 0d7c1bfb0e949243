#!/usr/bin/env bash
# Installs checkov into its own venv under .tools (it pins many libraries that must not enter
# the project lock) and links it into .tools/bin. Run it offline with --skip-download.
set -euo pipefail

readonly VERSION="3.3.30"

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${root}/.tools"
venv="${tools}/checkov-venv"
stamp="${venv}/.version"

if [[ -x "${tools}/bin/checkov" && -f "${stamp}" && "$(cat "${stamp}")" == "${VERSION}" ]]; then
    exit 0
fi

echo "installing checkov ${VERSION} from PyPI" >&2
mkdir -p "${tools}/bin"
rm -rf "${venv}"
python3 -m venv "${venv}"
"${venv}/bin/pip" install --quiet --disable-pip-version-check "checkov==${VERSION}"
ln -sf ../checkov-venv/bin/checkov "${tools}/bin/checkov"
echo "${VERSION}" >"${stamp}"
"${tools}/bin/checkov" --version >&2
