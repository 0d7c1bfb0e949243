output "secret_arns" {
  description = "ARN of every secret, by key (oura-oauth, oura-tokens, api-key, jwt-secret, ingest-token, grafana-admin, database-writer, database-reader)."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.arn }
}

output "secret_names" {
  description = "Name of every secret, by key: what ExternalSecret `remoteRef.key` uses."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.name }
}

output "kms_key_arn" {
  description = "KMS key of the secrets (readers need kms:Decrypt via Secrets Manager)."
  value       = module.kms.key_arn
}
