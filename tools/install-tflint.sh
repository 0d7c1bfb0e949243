#!/usr/bin/env bash
# tflint (MPL-2.0 + BUSL-1.1) from the Go module proxy, into .tools/bin. The bundled `terraform`
# ruleset needs no plugin download; we never run `tflint --init` (it would fetch from GitHub).
# The AWS ruleset is left out on purpose: building it compiles aws-sdk-go-v2's ec2 package,
# measured at more than the 6-minute budget on a 2-core machine (docs/infrastructure.md).
set -euo pipefail

VERSION=v0.64.0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
STAMP="$ROOT/.tools/stamps/tflint-$VERSION"

if [[ -x "$BIN/tflint" && -e "$STAMP" ]]; then
  exit 0
fi
mkdir -p "$BIN" "$(dirname "$STAMP")"
start=$SECONDS
GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "github.com/terraform-linters/tflint@$VERSION"
touch "$STAMP"
echo "tflint $VERSION installed in $((SECONDS - start)) s"
