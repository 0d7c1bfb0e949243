# prod: on-demand t3.large nodes, Multi-AZ db.r6g.large, one NAT per AZ, custom domain,
# GuardDuty and Config on, private-leaning API endpoint.
locals {
  region            = "us-east-1"
  github_repository = "eric-n/myhealth"
  # Budget alerts go here (AWS refuses a budget notification without a subscriber).
  alert_email = "myhealth-alerts@eric-n.com"

  # The one place tags are set: provider default_tags and every module's `tags`.
  tags = {
    Project     = "myhealth"
    Environment = "prod"
    ManagedBy   = "terraform"
    Repository  = local.github_repository
  }
}

module "myhealth" {
  source = "../../modules/myhealth"

  environment       = "prod"
  region            = local.region
  github_repository = local.github_repository
  state_bucket      = "myhealth-terraform-state-prod" # same as backend.hcl

  # One /16 per environment (dev 10.0, staging 10.1, prod 10.2): they never overlap, so peering or
  # one VPN can reach all of them; the database subnets are carved from it.
  vpc_cidr = "10.2.0.0/16"

  node_instance_types = ["t3.large"]
  node_min_size       = 3
  node_max_size       = 10
  db_instance_class   = "db.r6g.large"

  # api_certificate_arn = "arn:aws:acm:us-east-1:<account>:certificate/<id>"  # api.myhealth.eric-n.com
  # api_hosted_zone_id  = "<zone id of eric-n.com>"

  enable_guardduty = true
  enable_config    = true
  # Who may reach the public Kubernetes API endpoint (empty = private endpoint only, reached from
  # inside the VPC); 0.0.0.0/0 is refused in prod. E.g. ["203.0.113.10/32"].
  cluster_endpoint_public_access_cidrs = []

  # Cluster-admin and break-glass secret readers besides the CI apply role, e.g.
  # admin_principal_arns = { owner = "arn:aws:iam::<account>:role/<your admin role>" }

  budget_alert_emails = [local.alert_email]
  monthly_budget_usd  = 1000
  log_retention_days  = 365

  # false if this environment shares its AWS account with dev (one OIDC provider per account).
  create_github_oidc_provider = true

  tags = local.tags
}
