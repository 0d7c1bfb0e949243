#!/usr/bin/env bash
# Points kubectl at the EKS cluster of one environment and prepares the namespaces the GitOps
# setup expects. Safe to run again. Usage: scripts/setup-cluster.sh [dev|staging|prod]
set -euo pipefail

env="${1:-dev}"
region="${AWS_REGION:-us-east-1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tf_dir="${root}/terraform/environments/${env}"

need() { command -v "$1" >/dev/null || { echo "error: $1 is required" >&2; exit 1; }; }
need aws
need kubectl

cluster="${CLUSTER_NAME:-}"
if [[ -z "${cluster}" ]]; then
    need terraform
    cluster="$(terraform -chdir="${tf_dir}" output -raw cluster_name)"
fi

aws eks update-kubeconfig --region "${region}" --name "${cluster}" --alias "myhealth-${env}"
kubectl config use-context "myhealth-${env}"

# Namespaces are declared, not created, so a second run changes nothing. The app's and
# Prometheus' pods ask for their sidecar with the pod label sidecar.istio.io/inject; a namespace
# label istio-injection=disabled would override that, so those namespaces get none.
apply_namespace() {
    local name="$1"
    shift
    kubectl create namespace "${name}" --dry-run=client -o yaml \
        | kubectl label --local -f - "$@" --overwrite -o yaml \
        | kubectl apply -f -
}
apply_namespace argocd istio-injection=disabled
apply_namespace istio-system istio-injection=disabled
apply_namespace istio-ingress istio-injection=enabled
apply_namespace external-secrets istio-injection=disabled
apply_namespace monitoring app.kubernetes.io/part-of=monitoring
apply_namespace myhealth app.kubernetes.io/part-of=myhealth

echo "cluster ${cluster} is ready for scripts/install-argocd.sh"
