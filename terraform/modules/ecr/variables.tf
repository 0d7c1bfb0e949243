variable "name" {
  description = "Repository name: the product ships one image (`myhealth`), every service is a subcommand."
  type        = string
  default     = "myhealth"
}

variable "keep_last_images" {
  description = "Lifecycle: keep this many most recent images, expire the rest."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_last_images >= 5
    error_message = "Keep at least 5 images so a rollback target always exists."
  }
}

variable "kms_key_arn" {
  description = "KMS key for image encryption; null = the AWS-managed ECR key."
  type        = string
  default     = null
}

variable "push_principal_arns" {
  description = "Principals allowed to push (the CI role); everyone in the account with ECR read rights can pull."
  type        = list(string)
  default     = []
}

variable "pull_principal_arns" {
  description = "Principals allowed to pull (the EKS node role)."
  type        = list(string)
  default     = []
}

variable "force_delete" {
  description = "Delete the repository even if it holds images (dev only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
