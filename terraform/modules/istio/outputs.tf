output "version" {
  description = "Installed Istio version."
  value       = var.istio_version
}

output "ingress_gateway_namespace" {
  description = "Namespace of the ingress gateway (the TargetGroupBinding and Gateway objects go here)."
  value       = helm_release.ingress_gateway.namespace
}

output "ingress_gateway_service" {
  description = "Service name of the ingress gateway (TargetGroupBinding `serviceRef.name`)."
  value       = helm_release.ingress_gateway.name
}

output "ingress_gateway_selector" {
  description = "Label selector of the gateway pods, for `Gateway.spec.selector`."
  value       = { istio = "ingressgateway" }
}
