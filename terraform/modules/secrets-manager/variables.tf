variable "name_prefix" {
  description = "Prefix of every secret name, e.g. `myhealth/dev` gives `myhealth/dev/jwt-secret`."
  type        = string
}

variable "admin_principal_arns" {
  description = "Principals that may read every secret besides the named readers (break-glass admins; Terraform itself never reads values). Everyone else is denied GetSecretValue by the resource policy."
  type        = list(string)
}

variable "reader_principal_arns" {
  description = "Extra principals allowed to read a secret, by secret key (e.g. `{ jwt-secret = [<authorizer role>] }`)."
  type        = map(list(string))
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.reader_principal_arns) : contains(["oura-oauth", "oura-tokens", "api-key", "jwt-secret", "ingest-token", "grafana-admin", "database-writer", "database-reader"], key)])
    error_message = "reader_principal_arns keys must be secret keys of this module."
  }
}

variable "database_usernames" {
  description = "PostgreSQL role names of the two workload logins, by secret key. Terraform generates their passwords; the migration Job creates the roles."
  type        = map(string)
  default = {
    database-writer = "myhealth_writer"
    database-reader = "myhealth_reader"
  }

  validation {
    condition     = toset(keys(var.database_usernames)) == toset(["database-writer", "database-reader"])
    error_message = "database_usernames must name exactly database-writer and database-reader."
  }

  validation {
    condition     = alltrue([for name in values(var.database_usernames) : can(regex("^[a-z_][a-z0-9_]{0,62}$", name))])
    error_message = "PostgreSQL role names: lower-case letters, digits and underscores, at most 63 characters."
  }
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can be restored (0 = delete at once, dev only)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
