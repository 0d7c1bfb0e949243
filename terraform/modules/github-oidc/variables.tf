variable "name_prefix" {
  description = "Prefix of the role names (e.g. `myhealth-dev`)."
  type        = string
}

variable "github_repository" {
  description = "`owner/name` of the GitHub repository whose workflows may assume the roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "github_environment" {
  description = "GitHub environment (with required reviewers) that terraform-apply runs in; only that job may assume the apply role."
  type        = string
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (exactly one per account; false if another root owns it)."
  type        = bool
  default     = true
}

variable "ecr_repository_arn" {
  description = "Repository the image workflow may push to."
  type        = string
}

variable "state_bucket_arn" {
  description = "S3 bucket of the Terraform state (plan needs read, plus the lock file)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
