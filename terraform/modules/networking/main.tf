# VPC over three AZs: public subnets (NAT, load balancers), private subnets (EKS nodes and pods,
# the internal NLB), database subnets (RDS only, no route to the internet).
locals {
  public_subnets   = [for index, _ in var.azs : cidrsubnet(var.cidr, 8, index)]      # 10.0.0.0/24 ...
  database_subnets = [for index, _ in var.azs : cidrsubnet(var.cidr, 8, 10 + index)] # 10.0.10.0/24 ...
  private_subnets  = [for index, _ in var.azs : cidrsubnet(var.cidr, 4, 1 + index)]  # 10.0.16.0/20 ...
}

module "vpc" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 6.5"

  name = var.name
  cidr = var.cidr
  azs  = var.azs

  public_subnets   = local.public_subnets
  private_subnets  = local.private_subnets
  database_subnets = local.database_subnets

  create_database_subnet_group       = true
  create_database_subnet_route_table = true

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  enable_dns_hostnames = true
  enable_dns_support   = true

  # The default security group allows nothing; every workload gets its own group.
  manage_default_security_group  = true
  default_security_group_ingress = []
  default_security_group_egress  = []

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_max_aggregation_interval               = 60
  flow_log_cloudwatch_log_group_retention_in_days = var.flow_log_retention_days

  public_subnet_tags = {
    "kubernetes.io/role/elb" = "1"
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = "1"
    # Karpenter's EC2NodeClass selects subnets by this tag.
    "karpenter.sh/discovery" = var.cluster_name
  }

  tags = var.tags
}

# Private paths to the AWS APIs the cluster uses all the time: image pulls (ECR + S3 layers),
# External Secrets (Secrets Manager), IRSA (STS) and logs. Cheaper and narrower than the NAT.
module "vpc_endpoints" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/vpc/aws//modules/vpc-endpoints"
  version = "~> 6.5"

  vpc_id = module.vpc.vpc_id

  create_security_group      = true
  security_group_name_prefix = "${var.name}-vpce-"
  security_group_description = "HTTPS from inside the VPC to the interface endpoints"
  security_group_rules = {
    ingress_https = {
      description = "HTTPS from the VPC"
      cidr_blocks = [module.vpc.vpc_cidr_block]
    }
  }

  endpoints = merge(
    {
      s3 = {
        service         = "s3"
        service_type    = "Gateway"
        route_table_ids = concat(module.vpc.private_route_table_ids, module.vpc.database_route_table_ids)
        tags            = { Name = "${var.name}-s3" }
      }
    },
    {
      for service in var.interface_endpoints : replace(service, ".", "_") => {
        service             = service
        private_dns_enabled = true
        subnet_ids          = slice(module.vpc.private_subnets, 0, min(var.interface_endpoint_subnet_count, length(var.azs)))
        tags                = { Name = "${var.name}-${service}" }
      }
    },
  )

  tags = var.tags
}
