# terraform init -backend-config=backend.hcl
bucket = "myhealth-terraform-state-staging"
