variable "name" {
  description = "Prefix of the resources (e.g. `myhealth-dev`)."
  type        = string
}

variable "enable_cloudtrail" {
  description = "A multi-region CloudTrail trail (management events) into a private S3 bucket. The first trail's management events are free."
  type        = bool
  default     = true
}

variable "enable_guardduty" {
  description = "GuardDuty threat detection (a few USD a month at this size)."
  type        = bool
  default     = false
}

variable "enable_config" {
  description = "AWS Config recorder for the resource history (billed per recorded change)."
  type        = bool
  default     = false
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget; 0 disables the budget."
  type        = number
  default     = 0
}

variable "budget_alert_emails" {
  description = "Who is mailed at 80 % forecast and 100 % actual spend. At least one when a budget is set: AWS refuses a notification without subscribers."
  type        = list(string)
  default     = []

  validation {
    condition     = var.monthly_budget_usd == 0 || length(var.budget_alert_emails) > 0
    error_message = "A monthly budget needs at least one address in budget_alert_emails (AWS refuses a notification without subscribers)."
  }

  validation {
    condition     = alltrue([for address in var.budget_alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "budget_alert_emails must be e-mail addresses."
  }
}

variable "log_retention_days" {
  description = "Days CloudTrail and Config files are kept in S3."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
