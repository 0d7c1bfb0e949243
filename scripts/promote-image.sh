#!/usr/bin/env bash
# Promotes the image one environment runs to the next, by digest, as a change to review:
# writes image.digest of helm/myhealth/values-<from>.yaml into values-<to>.yaml and prints the
# git commands for the pull request. Argo CD deploys it once the pull request is merged.
# Each environment has its own ECR repository (myhealth-<env>, Terraform), so the image must be
# copied there by digest before the merge: the script prints the `crane copy` command, with the
# repositories taken from the Terraform files (helm/myhealth/infrastructure-<env>.json).
# Usage: scripts/promote-image.sh <from: dev|staging> <to: staging|prod>
set -euo pipefail

from="${1:?usage: promote-image.sh <from> <to>}"
to="${2:?usage: promote-image.sh <from> <to>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
source_file="${root}/helm/myhealth/values-${from}.yaml"
target_file="${root}/helm/myhealth/values-${to}.yaml"
for file in "${source_file}" "${target_file}"; do
    [[ -f "${file}" ]] || { echo "error: ${file} does not exist" >&2; exit 2; }
done

# Each values file has exactly one `  digest: "..."` line (under image:).
digest_of() {
    local lines
    lines="$(grep -E '^  digest: ' "$1" || true)"
    [[ "$(printf '%s\n' "${lines}" | grep -c .)" == "1" ]] \
        || { echo "error: expected one image digest line in $1" >&2; exit 2; }
    printf '%s\n' "${lines}" | sed -E 's/^  digest: "?([^"]*)"?$/\1/'
}

digest="$(digest_of "${source_file}")"
if [[ ! "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]]; then
    echo "error: ${from} has no image digest to promote (got '${digest}')" >&2
    exit 2
fi
current="$(digest_of "${target_file}")"
if [[ "${current}" == "${digest}" ]]; then
    echo "${to} already runs ${digest}"
    exit 0
fi
sed -i -E "s/^  digest: .*/  digest: \"${digest}\"/" "${target_file}"
echo "values-${to}.yaml: image.digest ${current:-<none>} -> ${digest}"
repository_of() {
    local file="${root}/helm/myhealth/infrastructure-$1.json"
    [[ -f "${file}" ]] || { echo "<myhealth-$1 repository: run terraform-apply for $1>"; return; }
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["image"]["repository"])' "${file}"
}
echo "copy the image first (same digest): crane copy $(repository_of "${from}")@${digest} $(repository_of "${to}"):${to}-${digest:7:12}"
echo "next: git switch -c promote-${to}-${digest:7:12} && git commit -am 'deploy(${to}): ${digest}' && open a pull request"
