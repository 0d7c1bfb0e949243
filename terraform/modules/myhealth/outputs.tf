# Everything the Helm chart and Argo CD need, as data. `helm_values` is the one to hand over:
#   terraform output -json helm_values > helm/myhealth/infrastructure-<env>.json
# (terraform-apply.yml commits it; see docs/infrastructure.md). Terraform never talks to the
# cluster: Istio, the AWS Load Balancer Controller and the other add-ons are Argo CD Applications.

output "region" {
  description = "AWS region."
  value       = var.region
}

output "cluster_name" {
  description = "EKS cluster (`aws eks update-kubeconfig --name <this>`)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint (register the cluster in ArgoCD with it)."
  value       = module.eks.cluster_endpoint
}

output "ecr_repository_url" {
  description = "Image repository; CI pushes `<this>:<git sha>`."
  value       = module.ecr.repository_url
}

output "rds_endpoint" {
  description = "host:port of PostgreSQL."
  value       = module.rds.endpoint
}

output "rds_master_secret_arn" {
  description = "RDS-managed (rotating) secret with the master user's credentials: for the migration Job only."
  value       = module.rds.master_user_secret_arn
}

output "secret_names" {
  description = "Secrets Manager names by key (ExternalSecret remoteRef.key)."
  value       = module.secrets.secret_names
}

output "external_secrets_role_arn" {
  description = "IRSA role of the External Secrets service account."
  value       = module.irsa.external_secrets_role_arn
}

output "api_url" {
  description = "Public URL of the API."
  value       = module.api_gateway.public_url
}

output "api_domain_target" {
  description = "Alias target for the API's domain when DNS is managed outside Route 53."
  value       = module.api_gateway.domain_target
}

output "github_actions_roles" {
  description = "Role ARNs for the GitHub Actions variables AWS_ECR_PUSH_ROLE_ARN, AWS_TERRAFORM_PLAN_ROLE_ARN, AWS_TERRAFORM_APPLY_ROLE_ARN."
  value = {
    ecr_push        = module.github_oidc.ecr_push_role_arn
    terraform_plan  = module.github_oidc.terraform_plan_role_arn
    terraform_apply = module.github_oidc.terraform_apply_role_arn
  }
}

output "helm_values" {
  description = "Infrastructure values for the myhealth chart (same keys as helm/myhealth/values.yaml, so the JSON can be passed with -f as it is) and the platform apps. No secret values: only names and ARNs."
  value = {
    aws = {
      region      = var.region
      accountId   = data.aws_caller_identity.current.account_id
      environment = var.environment
    }
    image = {
      repository = module.ecr.repository_url
    }
    database = {
      host    = module.rds.address
      port    = module.rds.port
      name    = module.rds.db_name
      sslMode = "require"
      cidrs   = module.networking.database_subnet_cidrs
      # The migration Job alone uses the master login, to create the two workload roles.
      masterSecretArn   = module.rds.master_user_secret_arn
      writerSecretArn   = module.secrets.secret_arns["database-writer"]
      readOnlySecretArn = module.secrets.secret_arns["database-readonly"]
    }
    externalSecrets = {
      roleArn        = module.irsa.external_secrets_role_arn
      serviceAccount = local.external_secrets_service_account
      secretNames = {
        ouraOauth    = module.secrets.secret_names["oura-oauth"]
        ouraTokens   = module.secrets.secret_names["oura-tokens"]
        apiKey       = module.secrets.secret_names["api-key"]
        jwtSecret    = module.secrets.secret_names["jwt-secret"]
        ingestToken  = module.secrets.secret_names["ingest-token"]
        grafanaAdmin = module.secrets.secret_names["grafana-admin"]
      }
    }
    ingress = {
      targetGroupArn   = module.api_gateway.target_group_arn
      gatewayNamespace = local.ingress_gateway.namespace
      gatewayService   = local.ingress_gateway.service
      gatewaySelector  = local.ingress_gateway.selector
      publicUrl        = module.api_gateway.public_url
    }
    platform = {
      clusterName                   = module.eks.cluster_name
      vpcId                         = module.networking.vpc_id
      loadBalancerControllerRoleArn = module.irsa.load_balancer_controller_role_arn
      clusterAutoscalerRoleArn      = module.irsa.cluster_autoscaler_role_arn
      karpenter                     = module.eks.karpenter
      # The gateway chart's ports the NLB relies on (Service 80 -> container 80, health 15021).
      ingressGatewayPort       = module.api_gateway.ingress_gateway_port
      ingressGatewayHealthPort = module.api_gateway.ingress_gateway_health_port
    }
  }
}
