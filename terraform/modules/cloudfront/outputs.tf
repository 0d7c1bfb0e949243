output "bucket_name" {
  description = "Bucket to upload the static assets to (null when not created)."
  value       = var.create ? module.bucket.s3_bucket_id : null
}

output "distribution_domain_name" {
  description = "cloudfront.net name of the distribution (null when not created)."
  value       = var.create ? module.cdn.cloudfront_distribution_domain_name : null
}

output "distribution_id" {
  description = "ID of the distribution, for cache invalidations (null when not created)."
  value       = var.create ? module.cdn.cloudfront_distribution_id : null
}
