#!/usr/bin/env bash
# Runs one command in an image's root filesystem the way the Helm chart runs its containers:
# the root filesystem read-only (readOnlyRootFilesystem: true), a 64 MiB tmpfs on /tmp (the
# chart's `tmp` emptyDir, medium Memory), as a non-root user and with an environment made only
# of what the caller passes (the image's ENV plus the pod's env). /proc and /dev are mounted
# as any container runtime mounts them. The network is the host's, so a server started here
# listens on the host's 127.0.0.1.
#
# `buildah run` cannot do this: it has no read-only option, and when the root it runs in is a
# read-only bind it cannot clean up after the command (it panics and loses the exit status).
# So the mounts are made here, in a private mount namespace (they vanish with the process and
# never reach the host), and the command is exec'd: its exit status and signals are ours.
#
# Usage (as root): run-read-only.sh ROOTFS UID:GID [NAME=VALUE ...] COMMAND [ARG ...]
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 ROOTFS UID:GID [NAME=VALUE ...] COMMAND [ARG ...]" >&2
    exit 64
fi
if [[ -z "${MYHEALTH_READ_ONLY_NAMESPACE:-}" ]]; then
    exec env MYHEALTH_READ_ONLY_NAMESPACE=1 unshare --mount --propagation private -- "$0" "$@"
fi

rootfs="$1"
user="$2"
shift 2
# Bind the root onto itself so it can be remounted read-only without touching the original.
mount --bind "$rootfs" "$rootfs"
mount -o remount,bind,ro,nosuid,nodev "$rootfs"
mount -t proc -o nosuid,nodev,noexec proc "$rootfs/proc"
mount --rbind /dev "$rootfs/dev"
mount -t tmpfs -o size=64m,mode=1777,nosuid,nodev tmpfs "$rootfs/tmp"
# env -i (the image's own env binary): nothing of the caller's environment leaks in.
exec chroot --userspec="$user" "$rootfs" /usr/bin/env -i "$@"
