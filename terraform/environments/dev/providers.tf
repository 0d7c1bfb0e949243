# Only AWS: Terraform never talks to the cluster (the add-ons and the app are Argo CD
# Applications that read Terraform's outputs as data).
provider "aws" {
  region = local.region

  default_tags {
    tags = local.tags
  }
}
