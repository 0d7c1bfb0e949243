variable "identifier" {
  description = "Name of the DB instance (e.g. `myhealth-dev`)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database."
  type        = string
}

variable "db_subnet_group_name" {
  description = "Subnet group over the private database subnets (from the networking module)."
  type        = string
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (the EKS nodes). Nothing else can reach the database."
  type        = list(string)
}

variable "engine_version" {
  description = "PostgreSQL version; a major version lets RDS pick the current minor."
  type        = string
  default     = "16"

  validation {
    condition     = startswith(var.engine_version, "16")
    error_message = "The product targets PostgreSQL 16 (the parameter group family is postgres16)."
  }
}

variable "instance_class" {
  description = "Instance class (the plan: db.t3.micro in dev)."
  type        = string
  default     = "db.t3.micro"
}

variable "allocated_storage" {
  description = "Initial gp3 storage in GiB."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 100
}

variable "db_name" {
  description = "Database created at launch."
  type        = string
  default     = "myhealth"
}

variable "master_username" {
  description = "Master user; its password is generated and kept by RDS in Secrets Manager."
  type        = string
  default     = "myhealth_admin"
}

variable "multi_az" {
  description = "Standby in a second AZ (prod)."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 7
    error_message = "Keep at least 7 days of backups."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (true everywhere but dev)."
  type        = bool
  default     = true
}

variable "performance_insights_enabled" {
  description = "Performance Insights (7 days free). Not offered on the smallest classes, so off in dev."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL logs."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
