variable "create" {
  description = "Create the static-asset bucket and distribution. Off by default: Grafana is the product's UI."
  type        = bool
  default     = false
}

variable "name" {
  description = "Prefix of the bucket and the distribution comment (e.g. `myhealth-dev`)."
  type        = string
}

variable "aliases" {
  description = "Custom domain names of the distribution (need acm_certificate_arn in us-east-1)."
  type        = list(string)
  default     = []
}

variable "acm_certificate_arn" {
  description = "ACM certificate (us-east-1) for the aliases; null = the cloudfront.net certificate."
  type        = string
  default     = null
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
