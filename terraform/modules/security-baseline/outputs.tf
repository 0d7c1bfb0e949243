output "audit_bucket_name" {
  description = "Bucket holding CloudTrail and Config files (null when neither is enabled)."
  value       = local.create_bucket ? module.audit_bucket.s3_bucket_id : null
}

output "cloudtrail_arn" {
  description = "ARN of the trail (null when disabled)."
  value       = var.enable_cloudtrail ? aws_cloudtrail.this[0].arn : null
}

output "guardduty_detector_id" {
  description = "GuardDuty detector (null when disabled)."
  value       = var.enable_guardduty ? aws_guardduty_detector.this[0].id : null
}

output "budget_name" {
  description = "Name of the monthly budget (null when disabled)."
  value       = var.monthly_budget_usd > 0 ? aws_budgets_budget.monthly[0].name : null
}
