variable "name" {
  description = "Name of the VPC and prefix for everything in it (e.g. `myhealth-dev`)."
  type        = string
}

variable "cidr" {
  description = "IPv4 CIDR of the VPC. Subnets are carved from it: public /24s, private /20s (pods take VPC IPs with the VPC CNI) and database /24s."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) <= 16
    error_message = "cidr must be a valid IPv4 CIDR of size /16 or larger."
  }
}

variable "azs" {
  description = "Availability zones to spread the subnets over (three for the plan's layout)."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 4
    error_message = "Use two to four availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (cheap, dev) instead of one per AZ (highly available, prod)."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints instead of the NAT gateway. S3 always gets a (free) gateway endpoint."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "secretsmanager", "sts", "logs"]
}

variable "interface_endpoint_subnet_count" {
  description = "In how many AZs each interface endpoint gets a network interface. Every ENI costs about 7.30 USD a month, so dev uses 1 (other AZs reach it across zones) and prod uses one per AZ."
  type        = number
  default     = 3

  validation {
    condition     = var.interface_endpoint_subnet_count >= 1
    error_message = "interface_endpoint_subnet_count must be at least 1."
  }
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group in CloudWatch Logs."
  type        = number
  default     = 30
}

variable "cluster_name" {
  description = "EKS cluster that uses the VPC; its name goes into the subnet discovery tags."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
