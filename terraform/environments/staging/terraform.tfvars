# staging: prod-like topology on Spot, smaller database.
environment       = "staging"
github_repository = "eric-n/myhealth"
state_bucket      = "myhealth-terraform-state-staging"

node_instance_types = ["t3.large", "t3a.large"]
node_min_size       = 2
node_max_size       = 6
db_instance_class   = "db.t3.small"

monthly_budget_usd = 500
log_retention_days = 90

# Set to false if this environment shares its AWS account with dev (one OIDC provider per account).
create_github_oidc_provider = true
