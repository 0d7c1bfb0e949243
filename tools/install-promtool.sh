#!/usr/bin/env bash
# Installs promtool into .tools/bin/ from Debian's `prometheus` package without installing the
# package (no systemd unit, no service started, no root needed once the apt lists exist):
# `apt-get download` fetches the .deb and `dpkg-deb -x` unpacks it into a temporary directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
STAMP="$TOOLS/promtool.version"
PACKAGE="prometheus"
# The tests are written for the PromQL of this release line (Debian bookworm ships 2.42).
MAJOR_MINOR="2.42."

if [[ -x "$TOOLS/bin/promtool" && -s "$STAMP" ]]; then
    exit 0
fi

started=$SECONDS
mkdir -p "$TOOLS/bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

candidate() {
    apt-cache policy "$PACKAGE" 2>/dev/null | awk '/Candidate:/ {print $2}'
}

refresh_lists() {
    # A fresh machine may have no package lists, and old lists name superseded versions.
    if [[ "$(id -u)" -eq 0 ]]; then
        apt-get update -qq >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq >/dev/null
    else
        echo "install-promtool: the apt lists are missing or stale and I am not root:" \
            "run 'apt-get update' first" >&2
        exit 1
    fi
}

download() {
    # As root, apt would drop to the _apt user, which cannot write to our private temp dir.
    (cd "$work" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" "$PACKAGE=$1") \
        >/dev/null 2>&1
}

version="$(candidate)"
if [[ -z "$version" || "$version" == "(none)" ]] || ! download "$version"; then
    refresh_lists
    version="$(candidate)"
    download "$version"
fi
if [[ "$version" != "$MAJOR_MINOR"* ]]; then
    echo "install-promtool: expected $PACKAGE $MAJOR_MINOR*, the archive offers '$version'" >&2
    exit 1
fi

# Unpack only promtool (the package also holds the server, which we do not need).
dpkg-deb --fsys-tarfile "$work"/"$PACKAGE"_*.deb | tar -x -C "$work" ./usr/bin/promtool
install -m 0755 "$work/usr/bin/promtool" "$TOOLS/bin/promtool"
"$TOOLS/bin/promtool" --version >/dev/null
echo "$version" >"$STAMP"
echo "install-promtool: promtool $version installed in $((SECONDS - started)) s"
