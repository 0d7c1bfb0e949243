#!/usr/bin/env bash
# Installs the Prometheus server and promtool (2.42), Alertmanager and amtool (0.25) into
# .tools/bin/ from Debian's `prometheus` and `prometheus-alertmanager` packages:
# `apt-get download` + `dpkg-deb -x` into a temporary directory, no package installed, no
# service started. promtool checks and unit-tests the rules; the end-to-end alert test
# (tests/observability/test_alert_delivery.py) runs both servers; `amtool check-config`
# validates the rendered Alertmanager configuration.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
STAMP="$TOOLS/alerting.version"
# The release lines the tests are written for (Debian bookworm).
WANTED=("prometheus=2.42." "prometheus-alertmanager=0.25.")

# Debian patches Alertmanager to read its built-in notification templates (default.tmpl,
# email.tmpl) from this fixed directory instead of compiling them in; without them it refuses
# every configuration. They are the package's own files, put where the package would put them.
SHARE="/usr/share/prometheus/alertmanager"

if [[ -x "$TOOLS/bin/prometheus" && -x "$TOOLS/bin/promtool" && -x "$TOOLS/bin/alertmanager" \
    && -x "$TOOLS/bin/amtool" \
    && -s "$STAMP" && -f "$SHARE/default.tmpl" ]]; then
    exit 0
fi

started=$SECONDS
mkdir -p "$TOOLS/bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

candidate() {
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'
}

refresh_lists() {
    # A fresh machine may have no package lists, and old lists name superseded versions.
    if [[ "$(id -u)" -eq 0 ]]; then
        apt-get update -qq >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq >/dev/null
    else
        echo "install-alerting: the apt lists are missing or stale and I am not root:" \
            "run 'apt-get update' first" >&2
        exit 1
    fi
}

download() {
    # As root, apt would drop to the _apt user, which cannot write to our private temp dir.
    (cd "$work" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" "$1=$2") \
        >/dev/null 2>&1
}

versions=()
for wanted in "${WANTED[@]}"; do
    package="${wanted%%=*}"
    prefix="${wanted#*=}"
    version="$(candidate "$package")"
    if [[ -z "$version" || "$version" == "(none)" ]] || ! download "$package" "$version"; then
        refresh_lists
        version="$(candidate "$package")"
        download "$package" "$version"
    fi
    if [[ "$version" != "$prefix"* ]]; then
        echo "install-alerting: expected $package $prefix*, the archive offers '$version'" >&2
        exit 1
    fi
    dpkg-deb -x "$work/${package}_"*.deb "$work/root"
    versions+=("$package=$version")
done

install -m 0755 "$work/root/usr/bin/prometheus" "$TOOLS/bin/prometheus"
install -m 0755 "$work/root/usr/bin/promtool" "$TOOLS/bin/promtool"
# Debian renames the server; upstream (and the prom/alertmanager image) call it alertmanager.
install -m 0755 "$work/root/usr/bin/prometheus-alertmanager" "$TOOLS/bin/alertmanager"
install -m 0755 "$work/root/usr/bin/amtool" "$TOOLS/bin/amtool"
as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
    as_root=(sudo)
fi
"${as_root[@]}" install -d "$SHARE"
"${as_root[@]}" install -m 0644 "$work/root$SHARE/"*.tmpl "$SHARE/"
for binary in prometheus promtool alertmanager amtool; do
    "$TOOLS/bin/$binary" --version >/dev/null 2>&1
done
printf '%s\n' "${versions[@]}" >"$STAMP"
echo "install-alerting: ${versions[*]} installed in $((SECONDS - started)) s"
