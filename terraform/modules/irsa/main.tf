# IAM roles for Kubernetes service accounts (IRSA), one per controller, each with only what that
# controller needs. Thin wrappers over terraform-aws-modules/iam's iam-role-for-service-accounts.
data "aws_region" "current" {}

module "external_secrets" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts"
  version = "~> 6.2"

  name        = "${var.name_prefix}-external-secrets"
  description = "External Secrets: read the myHealth secrets, nothing else"

  # Not the module's generic External Secrets policy: that one adds secretsmanager:ListSecrets on
  # every secret in the account. This role reads exactly the listed ARNs.
  permissions = {
    ReadTheseSecrets = {
      actions = [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
      ]
      resources = var.external_secret_arns
    }
    DecryptThroughSecretsManager = {
      actions   = ["kms:Decrypt"]
      resources = var.external_secret_kms_key_arns
      condition = [{
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${data.aws_region.current.region}.amazonaws.com"]
      }]
    }
  }

  oidc_providers = {
    this = {
      provider_arn               = var.oidc_provider_arn
      namespace_service_accounts = var.external_secrets_service_accounts
    }
  }

  tags = var.tags
}

module "ebs_csi" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts"
  version = "~> 6.2"

  name        = "${var.name_prefix}-ebs-csi"
  description = "EBS CSI driver add-on"

  attach_ebs_csi_policy = true
  ebs_csi_kms_cmk_arns  = var.ebs_csi_kms_key_arns

  oidc_providers = {
    this = {
      provider_arn               = var.oidc_provider_arn
      namespace_service_accounts = ["kube-system:ebs-csi-controller-sa"]
    }
  }

  tags = var.tags
}

module "load_balancer_controller" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts"
  version = "~> 6.2"

  name        = "${var.name_prefix}-lb-controller"
  description = "AWS Load Balancer Controller, TargetGroupBinding only (registers the Istio ingress pods in the NLB)"

  attach_load_balancer_controller_targetgroup_binding_only_policy = true
  load_balancer_controller_targetgroup_arns                       = var.load_balancer_target_group_arns

  oidc_providers = {
    this = {
      provider_arn               = var.oidc_provider_arn
      namespace_service_accounts = ["kube-system:aws-load-balancer-controller"]
    }
  }

  tags = var.tags
}

module "cluster_autoscaler" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts"
  version = "~> 6.2"
  count   = var.enable_cluster_autoscaler ? 1 : 0

  name        = "${var.name_prefix}-cluster-autoscaler"
  description = "Cluster Autoscaler, limited to this cluster's node groups"

  attach_cluster_autoscaler_policy = true
  cluster_autoscaler_cluster_names = [var.cluster_name]

  oidc_providers = {
    this = {
      provider_arn               = var.oidc_provider_arn
      namespace_service_accounts = ["kube-system:cluster-autoscaler"]
    }
  }

  tags = var.tags
}
