# terraform init -backend-config=backend.hcl
# The bucket is created once per account (versioned, encrypted, public access blocked): see
# docs/infrastructure.md "Bootstrap".
bucket = "myhealth-terraform-state-dev"
