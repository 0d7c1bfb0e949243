output "ecr_push_role_arn" {
  description = "Role for build-image.yml (repository variable AWS_ECR_PUSH_ROLE_ARN)."
  value       = aws_iam_role.this["ecr-push"].arn
}

output "terraform_plan_role_arn" {
  description = "Role for terraform-plan.yml (repository variable AWS_TERRAFORM_PLAN_ROLE_ARN)."
  value       = aws_iam_role.this["terraform-plan"].arn
}

output "terraform_apply_role_arn" {
  description = "Role for terraform-apply.yml (environment variable AWS_TERRAFORM_APPLY_ROLE_ARN)."
  value       = aws_iam_role.this["terraform-apply"].arn
}

output "subject_claim_keys" {
  description = "The repository's OIDC subject template the trust policies expect (set once with the GitHub API, docs/infrastructure.md)."
  value       = ["repo", "context", "job_workflow_ref"]
}
