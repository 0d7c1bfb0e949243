#!/usr/bin/env bash
# Writes the application's secrets. Safe to run again: existing values are kept unless
# --rotate is given, and generated values are only generated once.
#
#   scripts/create-secrets.sh [--env dev] [--rotate]           AWS Secrets Manager (ESO reads it)
#   scripts/create-secrets.sh --plain [--namespace myhealth]   Kubernetes Secrets (no ESO)
#
# AWS: Terraform creates the (empty) secrets myhealth/<env>/{oura-oauth,oura-tokens,api-key,
# jwt-secret,ingest-token,grafana-admin}; this fills them. OURA_CLIENT_ID/OURA_CLIENT_SECRET
# (and OURA_REFRESH_TOKEN, optional) are written when given; API_KEY, JWT_SECRET, INGEST_TOKEN
# and the Grafana password are generated once (kept on later runs unless --rotate). The database
# logins database-writer / database-reader ({"username", "password"}) are Terraform's: it
# generates their passwords write-only (docs/infrastructure.md), and the migration hook creates
# the roles in PostgreSQL as the master user.
# Whether a secret has a value is asked with describe-secret (the secret policy denies
# get-secret-value to everyone but External Secrets), so a rerun never rotates anything.
# --plain: writes the chart's Secrets directly; needs DATABASE_URL (the writer login;
# DATABASE_URL_READONLY, Grafana's reader login, is optional) besides the Oura values.
set -euo pipefail

env="dev"
mode="aws"
namespace="myhealth"
release="myhealth"
rotate="false"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --env) env="$2"; shift 2 ;;
        --plain) mode="plain"; shift ;;
        --namespace) namespace="$2"; shift 2 ;;
        --release) release="$2"; shift 2 ;;
        --rotate) rotate="true"; shift ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
region="${AWS_REGION:-us-east-1}"

need() { command -v "$1" >/dev/null || { echo "error: $1 is required" >&2; exit 1; }; }
need openssl
random() { openssl rand -base64 48 | tr -d '\n/+=' | cut -c1-48; }
: "${OURA_CLIENT_ID:?set OURA_CLIENT_ID}"
: "${OURA_CLIENT_SECRET:?set OURA_CLIENT_SECRET}"

# True when the secret Terraform created already holds a current value. describe-secret reads
# metadata only, which the secret policy allows.
has_value() {
    local stages
    stages="$(aws secretsmanager describe-secret --region "${region}" --secret-id "$1" \
        --query "VersionIdsToStages && contains(values(VersionIdsToStages)[], 'AWSCURRENT')" \
        --output text)"
    [[ "${stages}" == "True" ]]
}

# Writes a value into a secret Terraform created, unless it has one already (or --rotate).
put_aws_secret() {
    local name="$1" value="$2" force="$3"
    if [[ "${rotate}" != "true" && "${force}" != "true" ]] && has_value "${name}"; then
        echo "kept ${name}"
        return
    fi
    aws secretsmanager put-secret-value --region "${region}" --secret-id "${name}" \
        --secret-string "${value}" >/dev/null
    echo "wrote ${name}"
}

# Declarative apply: running it twice leaves the same Secret.
put_k8s_secret() {
    local name="$1"
    shift
    kubectl -n "${namespace}" create secret generic "${name}" "$@" --dry-run=client -o yaml \
        | kubectl apply -f -
}

json_object() {
    # Pairs of key value -> {"key": "value", ...}, safely quoted.
    python3 -c 'import json, sys; a = sys.argv[1:]; print(json.dumps(dict(zip(a[::2], a[1::2]))))' "$@"
}

if [[ "${mode}" == "aws" ]]; then
    need aws
    need python3
    prefix="myhealth/${env}"
    put_aws_secret "${prefix}/oura-oauth" "$(json_object client_id "${OURA_CLIENT_ID}" \
        client_secret "${OURA_CLIENT_SECRET}")" true
    if [[ -n "${OURA_REFRESH_TOKEN:-}" ]]; then
        put_aws_secret "${prefix}/oura-tokens" \
            "$(json_object refresh_token "${OURA_REFRESH_TOKEN}")" true
    else
        put_aws_secret "${prefix}/oura-tokens" "$(json_object refresh_token "")" false
    fi
    put_aws_secret "${prefix}/api-key" "${API_KEY:-$(random)}" false
    put_aws_secret "${prefix}/jwt-secret" "${JWT_SECRET:-$(random)}" false
    put_aws_secret "${prefix}/ingest-token" "${INGEST_TOKEN:-$(random)}" false
    put_aws_secret "${prefix}/grafana-admin" "$(json_object admin-user admin \
        admin-password "${GRAFANA_ADMIN_PASSWORD:-$(random)}")" false
else
    need kubectl
    need python3
    : "${DATABASE_URL:?set DATABASE_URL for --plain}"
    kubectl create namespace "${namespace}" --dry-run=client -o yaml | kubectl apply -f -
    existing() {
        kubectl -n "${namespace}" get secret "$1" -o "jsonpath={.data.$2}" 2>/dev/null | base64 -d || true
    }
    api_key="${API_KEY:-$(existing "${release}-api" API_KEY)}"
    jwt_secret="${JWT_SECRET:-$(existing "${release}-api" JWT_SECRET)}"
    ingest_token="${INGEST_TOKEN:-$(existing "${release}-ingest" INGEST_TOKEN)}"
    grafana_password="${GRAFANA_ADMIN_PASSWORD:-$(existing "${release}-grafana-datasource" admin-password)}"
    if [[ "${rotate}" == "true" ]]; then
        api_key="" jwt_secret="" ingest_token="" grafana_password=""
    fi
    put_k8s_secret "${release}-oura" --from-literal="OURA_CLIENT_ID=${OURA_CLIENT_ID}" \
        --from-literal="OURA_CLIENT_SECRET=${OURA_CLIENT_SECRET}"
    if [[ -n "${OURA_REFRESH_TOKEN:-}" ]]; then
        put_k8s_secret "${release}-oura-tokens" --from-literal="OURA_REFRESH_TOKEN=${OURA_REFRESH_TOKEN}"
    fi
    put_k8s_secret "${release}-database" --from-literal="DATABASE_URL=${DATABASE_URL}"
    put_k8s_secret "${release}-api" --from-literal="API_KEY=${api_key:-$(random)}" \
        --from-literal="JWT_SECRET=${jwt_secret:-$(random)}"
    put_k8s_secret "${release}-ingest" --from-literal="INGEST_TOKEN=${ingest_token:-$(random)}"
    # Grafana's datasource variables (observability/grafana/provisioning/datasources), read
    # from the read-only URL when given.
    grafana_url="${DATABASE_URL_READONLY:-${DATABASE_URL}}"
    url_part() {
        python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); q = dict(u.parse_qsl(p.query)); print({"host": f"{p.hostname}:{p.port or 5432}", "name": p.path.lstrip("/"), "user": u.unquote(p.username or ""), "password": u.unquote(p.password or ""), "sslmode": q.get("sslmode", "require")}[sys.argv[2]])' "${grafana_url}" "$1"
    }
    put_k8s_secret "${release}-grafana-datasource" \
        --from-literal="admin-password=${grafana_password:-$(random)}" \
        --from-literal="MYHEALTH_GRAFANA_DB_HOST=$(url_part host)" \
        --from-literal="MYHEALTH_GRAFANA_DB_NAME=$(url_part name)" \
        --from-literal="MYHEALTH_GRAFANA_DB_USER=$(url_part user)" \
        --from-literal="MYHEALTH_GRAFANA_DB_PASSWORD=$(url_part password)" \
        --from-literal="MYHEALTH_GRAFANA_DB_SSLMODE=$(url_part sslmode)" \
        --from-literal="MYHEALTH_PROMETHEUS_URL=${MYHEALTH_PROMETHEUS_URL:-http://${release}-prometheus:9090}"
fi
