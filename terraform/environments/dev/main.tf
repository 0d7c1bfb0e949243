# dev: the plan's cost-optimised sizing (Spot t3.medium 2-10, db.t3.micro single-AZ, one NAT).
locals {
  region            = "us-east-1"
  github_repository = "eric-n/myhealth"

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

  monthly_budget_usd = 250
  log_retention_days = 30

  tags = local.tags
}
