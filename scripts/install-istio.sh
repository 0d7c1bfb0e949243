#!/usr/bin/env bash
# Installs (or upgrades) Istio with its Helm charts: base (CRDs), istiod, and an ingress
# gateway in istio-ingress. With Argo CD, helm/argocd/platform/istio.yaml does the same; this
# script is for a first cluster or a cluster without Argo CD. Safe to run again.
set -euo pipefail

istio_version="${ISTIO_VERSION:-1.30.3}"

need() { command -v "$1" >/dev/null || { echo "error: $1 is required" >&2; exit 1; }; }
need helm
need kubectl

helm repo add istio https://istio-release.storage.googleapis.com/charts --force-update >/dev/null

helm upgrade --install istio-base istio/base \
    --namespace istio-system --create-namespace --version "${istio_version}" --wait
# Native sidecars let Jobs and CronJobs complete inside the mesh.
helm upgrade --install istiod istio/istiod \
    --namespace istio-system --version "${istio_version}" \
    --set pilot.env.ENABLE_NATIVE_SIDECARS=true \
    --set meshConfig.outboundTrafficPolicy.mode=ALLOW_ANY \
    --wait
helm upgrade --install istio-ingressgateway istio/gateway \
    --namespace istio-ingress --create-namespace --version "${istio_version}" \
    --set service.type=LoadBalancer \
    --set-string 'service.annotations.service\.beta\.kubernetes\.io/aws-load-balancer-type=nlb' \
    --wait

kubectl -n istio-ingress get service istio-ingressgateway
