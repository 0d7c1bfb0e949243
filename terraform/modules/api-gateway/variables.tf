variable "name" {
  description = "Name of the HTTP API and prefix of its resources (e.g. `myhealth-dev`)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the internal NLB and the VPC link."
  type        = string
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC (NLB egress to the Istio ingress pods)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the NLB and the VPC link."
  type        = list(string)
}

variable "ingress_gateway_port" {
  description = "Container port of the Istio ingress gateway that serves HTTP: the gateway chart's Service maps port 80 to target port 80."
  type        = number
  default     = 80
}

variable "ingress_gateway_health_port" {
  description = "Istio ingress gateway readiness port (`/healthz/ready`)."
  type        = number
  default     = 15021
}

variable "jwt_secret_arn" {
  description = "Secrets Manager secret holding the JWT signing key (the same one the API uses)."
  type        = string
}

variable "jwt_secret_kms_key_arn" {
  description = "KMS key of that secret."
  type        = string
}

variable "authorizer_build_dir" {
  description = "Directory filled by `scripts/build-authorizer.sh` (handler, myhealth.security.tokens, PyJWT); zipped by archive_file."
  type        = string
}

variable "authorizer_cache_seconds" {
  description = "How long API Gateway caches an authorizer decision per Authorization header. Short, because a cached allow outlives the token's expiry by up to this much."
  type        = number
  default     = 60

  validation {
    condition     = var.authorizer_cache_seconds >= 0 && var.authorizer_cache_seconds <= 300
    error_message = "authorizer_cache_seconds must be between 0 and 300."
  }
}

variable "authorizer_reserved_concurrency" {
  description = "Reserved concurrent executions of the authorizer (a ceiling on a token-spraying flood's cost); null = unreserved. A new account's Lambda quota is 10, and reserving leaves at least 10 unreserved, so set it only after raising the quota."
  type        = number
  default     = null

  validation {
    condition     = var.authorizer_reserved_concurrency == null || try(var.authorizer_reserved_concurrency >= 1, false)
    error_message = "authorizer_reserved_concurrency must be null or at least 1."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second for the whole stage (HTTP APIs have no per-client throttle; the API service enforces 100 req/min per client, RATE_LIMIT_PER_MINUTE)."
  type        = number
  default     = 20
}

variable "throttling_burst_limit" {
  description = "Burst size for the whole stage."
  type        = number
  default     = 40
}

variable "log_retention_days" {
  description = "Retention of the access log and the authorizer's log."
  type        = number
  default     = 30
}

variable "domain_name" {
  description = "Custom domain (e.g. `api.myhealth.eric-n.com`); empty = use the execute-api URL."
  type        = string
  default     = ""
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name (same region as the API)."
  type        = string
  default     = null
}

variable "hosted_zone_id" {
  description = "Route 53 zone to create the domain's alias record in; null = manage DNS elsewhere."
  type        = string
  default     = null
}

variable "nlb_deletion_protection" {
  description = "Deletion protection of the internal NLB."
  type        = bool
  default     = true
}

variable "webhooks_enabled" {
  description = "Route GET and POST /webhooks/oura (Oura's webhook calls) without the authorizer; the API checks their signature."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
