#!/usr/bin/env bash
# Puts a first value into the secrets the product can generate itself (api-key, jwt-secret,
# ingest-token, grafana-admin). Terraform creates the secrets but never their values, so no
# value ends up in Terraform state. Run once per environment with admin credentials:
#
#   scripts/seed-secrets.sh myhealth/dev            # only fills secrets that have no value yet
#   scripts/seed-secrets.sh myhealth/dev --rotate   # replaces them (logs the owner out: new JWT key)
#
# The Oura secrets (oura-oauth, oura-tokens) are the owner's and are set by hand, see
# terraform/modules/secrets-manager/README.md.
set -euo pipefail

prefix="${1:?usage: seed-secrets.sh NAME_PREFIX [--rotate]}"
rotate="${2:-}"

random_value() {
  aws secretsmanager get-random-password --password-length 48 --exclude-punctuation \
    --query RandomPassword --output text
}

has_value() {
  # shellcheck disable=SC2016  # the backticks are a JMESPath literal, not a command substitution
  aws secretsmanager describe-secret --secret-id "$1" --query 'length(VersionIdsToStages || `{}`)' \
    --output text | grep -qv '^0$'
}

for key in api-key jwt-secret ingest-token grafana-admin; do
  secret="$prefix/$key"
  if [[ "$rotate" != "--rotate" ]] && has_value "$secret"; then
    echo "$secret: has a value, kept"
    continue
  fi
  value="$(random_value)"
  if [[ "$key" == grafana-admin ]]; then
    value="{\"admin-user\":\"admin\",\"admin-password\":\"$value\"}"
  fi
  aws secretsmanager put-secret-value --secret-id "$secret" --secret-string "$value" >/dev/null
  echo "$secret: new value stored"
done
