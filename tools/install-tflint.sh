#!/usr/bin/env bash
# tflint (MPL-2.0 + BUSL-1.1) from the Go module proxy, into .tools/bin. The bundled `terraform`
# ruleset needs no plugin download; we never run `tflint --init` (it would fetch from GitHub).
# The AWS ruleset (tflint-ruleset-aws) is left out: the Go module proxy reachable here answers
# 403 "This module version is not available" for it (every version), and it would compile
# aws-sdk-go-v2's ec2 package besides (docs/infrastructure.md).
set -euo pipefail

VERSION=v0.64.0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
STAMP="$ROOT/.tools/stamps/tflint-$VERSION"

if [[ -x "$BIN/tflint" && -e "$STAMP" ]]; then
  exit 0
fi
mkdir -p "$BIN" "$(dirname "$STAMP")"
# Go is on PATH on the project machines; fall back to its usual place for non-login shells.
GO="$(command -v go || echo /usr/local/go/bin/go)"
start=$SECONDS
GOBIN="$BIN" GOFLAGS=-buildvcs=false "$GO" install -ldflags="-s -w" "github.com/terraform-linters/tflint@$VERSION"
touch "$STAMP"
echo "tflint $VERSION installed in $((SECONDS - start)) s"
