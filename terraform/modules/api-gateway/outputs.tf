output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Default execute-api URL (disabled when a custom domain is set)."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "public_url" {
  description = "The URL clients use."
  value       = var.domain_name != "" ? "https://${var.domain_name}" : aws_apigatewayv2_api.this.api_endpoint
}

output "domain_target" {
  description = "DNS target (alias) for the custom domain when DNS is managed elsewhere; null without a domain."
  value       = var.domain_name != "" ? aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name : null
}

output "target_group_arn" {
  description = "NLB target group of the Istio ingress gateway: the chart's TargetGroupBinding points at it."
  value       = module.nlb.target_groups["istio_ingress"].arn
}

output "nlb_dns_name" {
  description = "DNS name of the internal NLB."
  value       = module.nlb.dns_name
}

output "authorizer_function_name" {
  description = "Name of the Lambda authorizer."
  value       = aws_lambda_function.authorizer.function_name
}

output "authorizer_role_arn" {
  description = "Role of the Lambda authorizer (reader of the jwt-secret)."
  value       = aws_iam_role.authorizer.arn
}

output "ingress_gateway_port" {
  description = "Gateway container port the target group sends to (the node security group must open it)."
  value       = var.ingress_gateway_port
}

output "ingress_gateway_health_port" {
  description = "Gateway health port the target group checks (the node security group must open it)."
  value       = var.ingress_gateway_health_port
}

output "nlb_security_group_id" {
  description = "Security group of the internal NLB: the source of the node rules to the gateway pods."
  value       = module.nlb.security_group_id
}
