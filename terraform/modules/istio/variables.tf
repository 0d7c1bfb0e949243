variable "istio_version" {
  description = "Istio release (charts base, istiod, gateway). The repo's CRD test data is from 1.30.3."
  type        = string
  default     = "1.30.3"
}

variable "chart_repository" {
  description = "Helm repository of the Istio charts."
  type        = string
  default     = "https://istio-release.storage.googleapis.com/charts"
}

variable "ingress_gateway_replicas" {
  description = "Minimum (and initial) replicas of the ingress gateway; the HPA may add up to twice as many."
  type        = number
  default     = 2
}

variable "mesh_id" {
  description = "Mesh and trust domain name."
  type        = string
  default     = "cluster.local"
}

variable "access_logging" {
  description = "Envoy access logs to stdout (JSON) on every proxy."
  type        = bool
  default     = true
}
