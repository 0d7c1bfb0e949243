output "endpoint" {
  description = "host:port of the instance."
  value       = module.db.db_instance_endpoint
}

output "address" {
  description = "Host name of the instance."
  value       = module.db.db_instance_address
}

output "port" {
  description = "Port of the instance."
  value       = module.db.db_instance_port
}

output "db_name" {
  description = "Database created at launch."
  value       = var.db_name
}

output "master_username" {
  description = "Master user name."
  value       = var.master_username
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret (managed by RDS) with the master user's `username` and `password`."
  value       = module.db.db_instance_master_user_secret_arn
}

output "kms_key_arn" {
  description = "KMS key of the storage and of the master user secret (External Secrets needs kms:Decrypt on it)."
  value       = module.kms.key_arn
}

output "security_group_id" {
  description = "Security group of the instance."
  value       = aws_security_group.this.id
}
