# EKS with one managed node group, the core add-ons and IRSA, as a thin wrapper over
# terraform-aws-modules/eks. Nothing is applied *inside* the cluster from here except the
# add-ons EKS manages itself; workloads come from ArgoCD.
module "eks" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 21.3"

  name               = var.cluster_name
  kubernetes_version = var.kubernetes_version

  vpc_id     = var.vpc_id
  subnet_ids = var.subnet_ids

  # Private endpoint always (nodes, Argo CD); the public one only for the listed CIDRs.
  endpoint_private_access      = true
  endpoint_public_access       = length(var.endpoint_public_access_cidrs) > 0
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs

  # Access entries instead of the aws-auth ConfigMap. Who may administer the cluster is listed
  # explicitly; "whoever ran the first apply" (the creator entry) would follow a laptop session.
  authentication_mode                      = "API"
  enable_cluster_creator_admin_permissions = false
  access_entries = merge(
    {
      for name, principal_arn in var.admin_principal_arns : name => {
        principal_arn = principal_arn
        policy_associations = {
          admin = {
            policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
            access_scope = { type = "cluster" }
          }
        }
      }
    },
    {
      for name, principal_arn in var.viewer_principal_arns : name => {
        principal_arn = principal_arn
        policy_associations = {
          view = {
            policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
            access_scope = { type = "cluster" }
          }
        }
      }
    },
  )

  enable_irsa                            = true
  enabled_log_types                      = ["api", "audit", "authenticator"]
  cloudwatch_log_group_retention_in_days = var.log_retention_days

  addons = {
    vpc-cni = {
      most_recent    = true
      before_compute = true
      # Without it the VPC CNI does not enforce NetworkPolicy objects: the chart's policies
      # would be accepted by the API server and do nothing.
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
    eks-pod-identity-agent = {
      most_recent    = true
      before_compute = true
    }
    kube-proxy = {
      most_recent = true
    }
    coredns = {
      most_recent = true
    }
    aws-ebs-csi-driver = {
      most_recent              = true
      service_account_role_arn = var.ebs_csi_role_arn
    }
  }

  eks_managed_node_groups = {
    default = {
      ami_type       = "AL2023_x86_64_STANDARD"
      instance_types = var.node_instance_types
      capacity_type  = var.node_capacity_type

      min_size     = var.node_min_size
      max_size     = var.node_max_size
      desired_size = var.node_desired_size

      # IMDSv2 only, one hop: pods cannot borrow the node role; they use IRSA.
      metadata_options = {
        http_endpoint               = "enabled"
        http_tokens                 = "required"
        http_put_response_hop_limit = 1
      }

      labels = {
        "myhealth.io/capacity-type" = lower(var.node_capacity_type)
      }

      # Cluster Autoscaler auto-discovery (harmless when Karpenter is used instead).
      tags = {
        "k8s.io/cluster-autoscaler/enabled"             = "true"
        "k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned"
      }
    }
  }

  # The module's recommended node rules do not open these. Source: the cluster security group
  # for the control plane's calls into pods, the NLB's security group for the ingress gateway.
  node_security_group_additional_rules = {
    istio_webhooks = {
      description                   = "Control plane to istiod: sidecar injection and config validation webhooks"
      protocol                      = "tcp"
      from_port                     = 15017
      to_port                       = 15017
      type                          = "ingress"
      source_cluster_security_group = true
    }
    ingress_gateway_traffic = {
      description              = "Internal NLB to the Istio ingress gateway pods: traffic"
      protocol                 = "tcp"
      from_port                = var.ingress_gateway_port
      to_port                  = var.ingress_gateway_port
      type                     = "ingress"
      source_security_group_id = var.ingress_source_security_group_id
    }
    ingress_gateway_health = {
      description              = "Internal NLB to the Istio ingress gateway pods: health checks"
      protocol                 = "tcp"
      from_port                = var.ingress_gateway_health_port
      to_port                  = var.ingress_gateway_health_port
      type                     = "ingress"
      source_security_group_id = var.ingress_source_security_group_id
    }
  }

  node_security_group_tags = {
    "karpenter.sh/discovery" = var.cluster_name
  }

  tags = var.tags
}

# Karpenter's AWS side: controller role (Pod Identity), node role and access entry, and the
# SQS queue + EventBridge rules for Spot interruptions.
module "karpenter" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "~> 21.3"
  count   = var.enable_karpenter ? 1 : 0

  cluster_name = module.eks.cluster_name

  node_iam_role_additional_policies = {
    AmazonSSMManagedInstanceCore = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
  }

  tags = var.tags
}
