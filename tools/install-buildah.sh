#!/usr/bin/env bash
# buildah (builds and runs the Dockerfile without a Docker daemon) and mmdebstrap (makes the
# stand-in for the python:3.11-slim-bookworm base, which cannot be pulled here), from Debian's
# apt. tests/image/ builds the image with them and runs it. podman is not needed: buildah
# imports the stand-in itself, and podman cannot run containers on these machines anyway
# (crun's setrlimit is refused). Needs root (or password-less sudo) the first time only.
set -euo pipefail

packages=(buildah mmdebstrap)
missing=()
for package in "${packages[@]}"; do
    command -v "$package" >/dev/null || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! sudo -n true 2>/dev/null; then
        echo "install-buildah.sh: ${missing[*]} missing; run as root or: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo -n)
fi
echo "installing ${missing[*]} from apt" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
buildah --version >&2
