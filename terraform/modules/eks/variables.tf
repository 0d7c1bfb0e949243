variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and the node group (1.34 or newer)."
  type        = string
  default     = "1.34"

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version)) && tonumber(split(".", var.kubernetes_version)[1]) >= 34
    error_message = "kubernetes_version must be \"1.34\" or newer, written as major.minor."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the control plane ENIs and the nodes."
  type        = list(string)
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs that may reach the public Kubernetes API endpoint; empty = no public endpoint (private only: reach it through a VPN, a bastion or a runner inside the VPC)."
  type        = list(string)
  default     = []
}

variable "admin_principal_arns" {
  description = "IAM principals (roles) given cluster-admin through EKS access entries, by a short name (the people who administer the cluster and the CI apply role)."
  type        = map(string)
  default     = {}
}

variable "viewer_principal_arns" {
  description = "IAM principals given read-only cluster access (AmazonEKSViewPolicy), by a short name (the CI plan role)."
  type        = map(string)
  default     = {}
}

variable "ingress_gateway_port" {
  description = "Container port of the Istio ingress gateway pods that the internal NLB sends traffic to."
  type        = number
}

variable "ingress_gateway_health_port" {
  description = "Container port of the Istio ingress gateway pods that the NLB health check calls."
  type        = number
}

variable "ingress_source_security_group_id" {
  description = "Security group of the internal NLB: the only source allowed to the ingress gateway ports."
  type        = string
}

variable "node_instance_types" {
  description = "Instance types of the managed node group (several types make Spot capacity easier to get)."
  type        = list(string)
  default     = ["t3.medium"]
}

variable "node_capacity_type" {
  description = "ON_DEMAND or SPOT (the plan: Spot outside prod)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.node_capacity_type)
    error_message = "node_capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "node_min_size" {
  description = "Minimum number of nodes."
  type        = number
  default     = 2
}

variable "node_max_size" {
  description = "Maximum number of nodes (the autoscaler's ceiling)."
  type        = number
  default     = 10
}

variable "node_desired_size" {
  description = "Initial number of nodes; the autoscaler owns it afterwards."
  type        = number
  default     = 2
}

variable "ebs_csi_role_arn" {
  description = "IAM role (IRSA) of the EBS CSI driver add-on, from the irsa module."
  type        = string
}

variable "enable_karpenter" {
  description = "Create the AWS side of Karpenter (controller role, node role, interruption queue). The Karpenter chart itself is deployed by ArgoCD with these outputs. false = the node group is scaled by Cluster Autoscaler (its role is in the irsa module)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the control plane log group."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
