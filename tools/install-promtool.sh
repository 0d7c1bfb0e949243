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
chmod 755 "$work"  # apt-get download drops privileges to _apt and must write here
trap 'rm -rf "$work"' EXIT

candidate() {
    apt-cache policy "$PACKAGE" 2>/dev/null | awk '/Candidate:/ {print $2}'
}

version="$(candidate)"
if [[ -z "$version" || "$version" == "(none)" ]]; then
    # A fresh machine may have no package lists yet; refreshing them needs root.
    if [[ "$(id -u)" -eq 0 ]]; then
        apt-get update -qq >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq >/dev/null
    else
        echo "install-promtool: no package lists and not root: run 'apt-get update' first" >&2
        exit 1
    fi
    version="$(candidate)"
fi
if [[ "$version" != "$MAJOR_MINOR"* ]]; then
    echo "install-promtool: expected $PACKAGE $MAJOR_MINOR*, the archive offers '$version'" >&2
    exit 1
fi

(cd "$work" && apt-get download -qq "$PACKAGE=$version")
dpkg-deb -x "$work"/"$PACKAGE"_*.deb "$work/root"
install -m 0755 "$work/root/usr/bin/promtool" "$TOOLS/bin/promtool"
"$TOOLS/bin/promtool" --version >/dev/null
echo "$version" >"$STAMP"
echo "install-promtool: promtool $version installed in $((SECONDS - started)) s"
