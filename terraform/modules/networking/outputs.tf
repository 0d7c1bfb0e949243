output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = module.vpc.vpc_cidr_block
}

output "azs" {
  description = "Availability zones in use."
  value       = module.vpc.azs
}

output "public_subnet_ids" {
  description = "Public subnets (NAT gateways, internet-facing load balancers)."
  value       = module.vpc.public_subnets
}

output "private_subnet_ids" {
  description = "Private subnets (EKS nodes and pods, internal NLB, VPC link, endpoints)."
  value       = module.vpc.private_subnets
}

output "database_subnet_ids" {
  description = "Database subnets (RDS only)."
  value       = module.vpc.database_subnets
}

output "database_subnet_group_name" {
  description = "RDS subnet group spanning the database subnets."
  value       = module.vpc.database_subnet_group_name
}

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways (the addresses Oura sees)."
  value       = module.vpc.nat_public_ips
}

output "vpc_endpoint_ids" {
  description = "IDs of the VPC endpoints, by service."
  value       = { for key, endpoint in module.vpc_endpoints.endpoints : key => endpoint.id }
}

output "database_subnet_cidrs" {
  description = "CIDRs of the database subnets (NetworkPolicy egress to PostgreSQL)."
  value       = module.vpc.database_subnets_cidr_blocks
}
