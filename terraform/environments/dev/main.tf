# dev: the plan's cost-optimised sizing (Spot t3.medium 2-10, db.t3.micro single-AZ, one NAT).
locals {
  region            = "us-east-1"
  github_repository = "eric-n/myhealth"
  # Budget alerts go here (AWS refuses a budget notification without a subscriber).
  alert_email = "myhealth-alerts@eric-n.com"

  # The one place tags are set: provider default_tags and every module's `tags`.
  tags = {
    Project     = "myhealth"
    Environment = "dev"
    ManagedBy   = "terraform"
    Repository  = local.github_repository
  }
}

module "myhealth" {
  source = "../../modules/myhealth"

  environment       = "dev"
  region            = local.region
  github_repository = local.github_repository
  state_bucket      = "myhealth-terraform-state-dev" # same as backend.hcl

  node_instance_types = ["t3.medium", "t3a.medium"]
  node_min_size       = 2
  node_max_size       = 10
  db_instance_class   = "db.t3.micro"

  # dev: the Kubernetes API is reachable from anywhere (still IAM-authenticated), so a laptop can
  # run kubectl; staging and prod list the CIDRs that may reach it.
  cluster_endpoint_public_access_cidrs = ["0.0.0.0/0"]

  # Cluster-admin and break-glass secret readers besides the CI apply role, e.g.
  # admin_principal_arns = { owner = "arn:aws:iam::<account>:role/<your admin role>" }

  budget_alert_emails = [local.alert_email]
  monthly_budget_usd  = 250
  log_retention_days  = 30

  tags = local.tags
}
