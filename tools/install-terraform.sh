#!/usr/bin/env bash
# A `terraform` CLI for `terraform fmt -check` in .tools/bin, built from the Go module proxy.
# v1.5.7 is the last MPL-2.0 release and its go.mod has no replace directives, so a plain
# `go install` works. It is used only for fmt (validate/plan need provider binaries, which cannot
# be fetched offline), and fmt's rules have not changed since. A newer terraform already on PATH
# is not relied upon: a fresh machine may not have one.
set -euo pipefail

VERSION=v1.5.7
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
STAMP="$ROOT/.tools/stamps/terraform-$VERSION"

if [[ -x "$BIN/terraform" && -e "$STAMP" ]]; then
  exit 0
fi
mkdir -p "$BIN" "$(dirname "$STAMP")"
start=$SECONDS
GOBIN="$BIN" GOFLAGS=-buildvcs=false go install -ldflags="-s -w" "github.com/hashicorp/terraform@$VERSION"
touch "$STAMP"
echo "terraform $VERSION installed in $((SECONDS - start)) s"
