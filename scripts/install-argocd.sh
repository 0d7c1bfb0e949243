#!/usr/bin/env bash
# Installs (or upgrades) Argo CD with Helm, then applies the myHealth AppProject and the
# platform and application Applications. Safe to run again.
# Usage: scripts/install-argocd.sh [dev|staging|prod]
set -euo pipefail

env="${1:-dev}"
argocd_chart_version="${ARGOCD_CHART_VERSION:-9.1.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"

need() { command -v "$1" >/dev/null || { echo "error: $1 is required" >&2; exit 1; }; }
need helm
need kubectl

helm repo add argo https://argoproj.github.io/argo-helm --force-update >/dev/null
helm upgrade --install argocd argo/argo-cd \
    --namespace argocd --create-namespace \
    --version "${argocd_chart_version}" \
    --set configs.params."server\.insecure"=false \
    --wait --timeout 10m

kubectl apply -f "${root}/helm/argocd/appproject.yaml"
# The add-ons (External Secrets, kube-prometheus-stack); Istio comes from Terraform, or from
# helm/argocd/optional/istio.yaml on a cluster Terraform did not set up.
kubectl apply -f "${root}/helm/argocd/platform/"
if [[ "${env}" == "dev" ]]; then
    kubectl apply -f "${root}/helm/argocd/application.yaml"
else
    # Other environments use the same Application with their own values file.
    sed -e "s/values-dev.yaml/values-${env}.yaml/" -e "s/name: myhealth-dev/name: myhealth-${env}/" \
        "${root}/helm/argocd/application.yaml" | kubectl apply -f -
fi

echo "initial admin password:"
kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d
echo
