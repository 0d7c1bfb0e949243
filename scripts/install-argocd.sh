#!/usr/bin/env bash
# Installs (or upgrades) Argo CD with Helm, then applies the myHealth AppProject and the root
# Application of one environment (helm/argocd/bootstrap/<env>.yaml, the app of apps), which brings the
# add-ons and the app. Needs helm/myhealth/infrastructure-<env>.json on main (terraform-apply.yml
# commits it). Safe to run again. Usage: scripts/install-argocd.sh [dev|staging|prod]
set -euo pipefail

env="${1:-dev}"
argocd_chart_version="${ARGOCD_CHART_VERSION:-9.1.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"

need() { command -v "$1" >/dev/null || { echo "error: $1 is required" >&2; exit 1; }; }
need helm
need kubectl
[[ -f "${root}/helm/argocd/bootstrap/${env}.yaml" ]] || { echo "error: unknown environment ${env}" >&2; exit 2; }
if [[ ! -f "${root}/helm/myhealth/infrastructure-${env}.json" ]]; then
    echo "error: helm/myhealth/infrastructure-${env}.json is missing: apply Terraform first" >&2
    exit 2
fi

helm repo add argo https://argoproj.github.io/argo-helm --force-update >/dev/null
helm upgrade --install argocd argo/argo-cd \
    --namespace argocd --create-namespace \
    --version "${argocd_chart_version}" \
    -f "${root}/helm/argocd/argocd-values.yaml" \
    --wait --timeout 10m

kubectl apply -f "${root}/helm/argocd/appproject.yaml"
kubectl apply -f "${root}/helm/argocd/bootstrap/${env}.yaml"

echo "Argo CD syncs myhealth-root-${env}; watch: kubectl -n argocd get applications"
