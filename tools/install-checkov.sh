#!/usr/bin/env bash
# checkov (Apache-2.0) from PyPI; run it offline with --skip-download.
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

pip_tool checkov 3.3.30
