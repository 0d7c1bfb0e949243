# The whole of one myHealth environment: every module wired together. Each environment root
# (terraform/environments/<env>) calls this once with its sizes and switches and configures the
# providers; decisions that differ by environment are derived from var.environment here (Spot
# outside prod, one NAT in dev, Multi-AZ and deletion protection in prod, ...), so they are
# visible in one place.
locals {
  name        = "myhealth-${var.environment}"
  is_dev      = var.environment == "dev"
  api_domain  = var.api_certificate_arn != null ? "api.myhealth.${var.root_domain}" : ""
  secret_path = "myhealth/${var.environment}"
  tags        = var.tags

  # The Istio ingress gateway that Argo CD installs (gateway chart, release istio-ingressgateway
  # in istio-ingress). Its Service maps port 80 to container port 80; 15021 answers
  # /healthz/ready. The NLB target group, its health check, the NLB egress rules and the node
  # security group rules all take their ports from here.
  ingress_gateway = {
    namespace   = "istio-ingress"
    service     = "istio-ingressgateway"
    selector    = { istio = "ingressgateway" }
    port        = 80
    health_port = 15021
  }

  # Every service account the chart's SecretStores authenticate as: the app's in `myhealth` and
  # Grafana's datasource store in `monitoring` (same name, two namespaces).
  external_secrets_service_account = "myhealth-external-secrets"
  external_secrets_service_accounts = [
    "myhealth:myhealth-external-secrets",
    "monitoring:myhealth-external-secrets",
  ]
}

data "aws_caller_identity" "current" {}

module "networking" {
  source = "../networking"

  name                            = local.name
  cidr                            = var.vpc_cidr
  azs                             = var.azs
  cluster_name                    = local.name
  single_nat_gateway              = local.is_dev
  interface_endpoint_subnet_count = local.is_dev ? 1 : length(var.azs)
  flow_log_retention_days         = var.log_retention_days

  tags = local.tags
}

module "eks" {
  source = "../eks"

  cluster_name                 = local.name
  kubernetes_version           = var.kubernetes_version
  vpc_id                       = module.networking.vpc_id
  subnet_ids                   = module.networking.private_subnet_ids
  endpoint_public_access_cidrs = var.cluster_endpoint_public_access_cidrs
  # CI applies (admin) and plans (read) besides the named administrators; nobody else.
  admin_principal_arns  = merge(var.admin_principal_arns, { ci-terraform-apply = module.github_oidc.terraform_apply_role_arn })
  viewer_principal_arns = { ci-terraform-plan = module.github_oidc.terraform_plan_role_arn }

  ingress_gateway_port             = local.ingress_gateway.port
  ingress_gateway_health_port      = local.ingress_gateway.health_port
  ingress_source_security_group_id = module.api_gateway.nlb_security_group_id

  node_instance_types = var.node_instance_types
  node_capacity_type  = var.environment == "prod" ? "ON_DEMAND" : "SPOT"
  node_min_size       = var.node_min_size
  node_max_size       = var.node_max_size
  node_desired_size   = var.node_min_size

  ebs_csi_role_arn   = module.irsa.ebs_csi_role_arn
  enable_karpenter   = var.enable_karpenter
  log_retention_days = var.log_retention_days

  tags = local.tags
}

module "rds" {
  source = "../rds"

  identifier                   = local.name
  vpc_id                       = module.networking.vpc_id
  db_subnet_group_name         = module.networking.database_subnet_group_name
  allowed_security_group_ids   = [module.eks.node_security_group_id]
  instance_class               = var.db_instance_class
  multi_az                     = var.environment == "prod"
  backup_retention_days        = 7
  deletion_protection          = !local.is_dev
  performance_insights_enabled = !local.is_dev
  log_retention_days           = var.log_retention_days

  tags = local.tags
}

module "ecr" {
  source = "../ecr"

  name                = local.name # unique per environment: two environments may share an account
  keep_last_images    = 30
  push_principal_arns = [module.github_oidc.ecr_push_role_arn]
  force_delete        = local.is_dev

  tags = local.tags
}

module "secrets" {
  source = "../secrets-manager"

  name_prefix             = local.secret_path
  admin_principal_arns    = values(var.admin_principal_arns)
  recovery_window_in_days = local.is_dev ? 0 : 30
  reader_principal_arns = merge(
    {
      for key in ["oura-oauth", "oura-tokens", "api-key", "ingest-token", "grafana-admin", "database-writer", "database-reader"] :
      key => [module.irsa.external_secrets_role_arn]
    },
    { jwt-secret = [module.irsa.external_secrets_role_arn, module.api_gateway.authorizer_role_arn] },
  )

  tags = local.tags
}

module "irsa" {
  source = "../irsa"

  name_prefix       = local.name
  cluster_name      = module.eks.cluster_name
  oidc_provider_arn = module.eks.oidc_provider_arn

  external_secrets_service_accounts = local.external_secrets_service_accounts
  # The app secrets, the two workload logins, and the RDS master secret for the migration Job
  # only (it creates the writer and read-only roles; no workload connects as the master user).
  external_secret_arns         = concat(values(module.secrets.secret_arns), [module.rds.master_user_secret_arn])
  external_secret_kms_key_arns = [module.secrets.kms_key_arn, module.rds.kms_key_arn]

  load_balancer_target_group_arns = [module.api_gateway.target_group_arn]
  enable_cluster_autoscaler       = !var.enable_karpenter

  tags = local.tags
}

module "api_gateway" {
  source = "../api-gateway"

  name                        = local.name
  vpc_id                      = module.networking.vpc_id
  vpc_cidr_block              = module.networking.vpc_cidr_block
  private_subnet_ids          = module.networking.private_subnet_ids
  ingress_gateway_port        = local.ingress_gateway.port
  ingress_gateway_health_port = local.ingress_gateway.health_port

  jwt_secret_arn         = module.secrets.secret_arns["jwt-secret"]
  jwt_secret_kms_key_arn = module.secrets.kms_key_arn
  authorizer_build_dir   = var.authorizer_build_dir

  authorizer_reserved_concurrency = var.authorizer_reserved_concurrency
  webhooks_enabled                = var.webhooks_enabled

  domain_name             = local.api_domain
  certificate_arn         = var.api_certificate_arn
  hosted_zone_id          = var.api_hosted_zone_id
  nlb_deletion_protection = !local.is_dev
  log_retention_days      = var.log_retention_days

  tags = local.tags
}

module "cloudfront" {
  source = "../cloudfront"

  create = var.enable_cloudfront
  name   = local.name

  tags = local.tags
}

module "security_baseline" {
  source = "../security-baseline"

  name                = local.name
  enable_cloudtrail   = true
  enable_guardduty    = var.enable_guardduty
  enable_config       = var.enable_config
  monthly_budget_usd  = var.monthly_budget_usd
  budget_alert_emails = var.budget_alert_emails

  tags = local.tags
}

module "github_oidc" {
  source = "../github-oidc"

  name_prefix          = local.name
  github_repository    = var.github_repository
  github_environment   = var.environment
  create_oidc_provider = var.create_github_oidc_provider
  ecr_repository_arn   = module.ecr.repository_arn
  state_bucket_arn     = "arn:aws:s3:::${var.state_bucket}"

  tags = local.tags
}
