output "repository_url" {
  description = "URL to tag and push images to (`<account>.dkr.ecr.<region>.amazonaws.com/myhealth`)."
  value       = module.ecr.repository_url
}

output "repository_arn" {
  description = "ARN of the repository (for IAM policies)."
  value       = module.ecr.repository_arn
}

output "repository_name" {
  description = "Name of the repository."
  value       = module.ecr.repository_name
}
