#!/usr/bin/env bash
# Fills the Lambda authorizer's build directory, which Terraform's `archive_file` zips
# (terraform/modules/api-gateway). Contents: the handler, the shared token code and PyJWT.
#
#   scripts/build-authorizer.sh [OUT_DIR]     # default: build/authorizer
#
# Only what the handler imports is copied (myhealth/__init__.py, myhealth/security/{__init__,
# tokens,api_tokens,lambda_authorizer}.py), so the zip stays small and never drags in the API's
# dependencies. PyJWT is installed at the version pinned in uv.lock; it is pure Python, so the
# same files work on the arm64 Lambda runtime. boto3 comes with the Lambda runtime.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/build/authorizer}"

pyjwt_version="$(awk '/^name = "pyjwt"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$ROOT/uv.lock")"
if [[ -z "$pyjwt_version" ]]; then
  echo "build-authorizer: pyjwt not found in uv.lock" >&2
  exit 1
fi

rm -rf "$OUT"
mkdir -p "$OUT/myhealth/security"
cp "$ROOT/src/myhealth/__init__.py" "$OUT/myhealth/__init__.py"
for module in __init__ tokens api_tokens lambda_authorizer; do
  cp "$ROOT/src/myhealth/security/$module.py" "$OUT/myhealth/security/$module.py"
done

if command -v uv >/dev/null 2>&1; then
  uv pip install --quiet --no-deps --target "$OUT" "pyjwt==$pyjwt_version"
else
  python3 -m pip install --quiet --no-deps --disable-pip-version-check --target "$OUT" "pyjwt==$pyjwt_version"
fi
# Byte-code and install metadata differ between machines; leave them out so the zip (and
# therefore the Lambda's source_code_hash) only changes when the code does.
rm -f "$OUT/.lock"
find "$OUT" -name __pycache__ -type d -prune -exec rm -rf {} +
rm -rf "$OUT"/pyjwt-*.dist-info/RECORD "$OUT"/pyjwt-*.dist-info/INSTALLER "$OUT"/pyjwt-*.dist-info/REQUESTED
echo "authorizer build: $OUT (PyJWT $pyjwt_version)"
