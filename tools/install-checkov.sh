#!/usr/bin/env bash
# checkov (Apache-2.0) 3.3.30 from PyPI into its own venv, .tools/checkov-venv, linked as
# .tools/bin/checkov. Its own venv because its pins (boto3, networkx, ...) would fight the
# project's. Run it offline with `--skip-download`.
set -euo pipefail

VERSION=3.3.30
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
VENV="$ROOT/.tools/checkov-venv"
STAMP="$ROOT/.tools/stamps/checkov-$VERSION"

if [[ -x "$BIN/checkov" && -e "$STAMP" ]]; then
  exit 0
fi
mkdir -p "$BIN" "$(dirname "$STAMP")"
start=$SECONDS
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$VERSION"
ln -sf ../checkov-venv/bin/checkov "$BIN/checkov"
touch "$STAMP"
echo "checkov $VERSION installed in $((SECONDS - start)) s"
