# dev: the plan's cost-optimised sizing (Spot t3.medium 2-10, db.t3.micro single-AZ, one NAT).
environment       = "dev"
github_repository = "eric-n/myhealth"
state_bucket      = "myhealth-terraform-state-dev"

node_instance_types = ["t3.medium", "t3a.medium"]
node_min_size       = 2
node_max_size       = 10
db_instance_class   = "db.t3.micro"

monthly_budget_usd = 250
log_retention_days = 30
