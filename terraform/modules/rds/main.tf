# PostgreSQL 16 in the database subnets, encrypted with its own KMS key, master password
# generated and stored by RDS in Secrets Manager (it never appears in Terraform state), TLS
# forced by the parameter group.

module "kms" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/kms/aws"
  version = "~> 4.0"

  description             = "${var.identifier}: RDS storage, Performance Insights and the master user secret"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  aliases                 = ["rds/${var.identifier}"]

  tags = var.tags
}

resource "aws_security_group" "this" {
  # checkov:skip=CKV2_AWS_5: attached to the DB instance inside the terraform-aws-modules/rds call below, which checkov does not follow
  name_prefix = "${var.identifier}-db-"
  description = "PostgreSQL ${var.identifier}: 5432 from the EKS nodes only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.identifier}-db" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each = toset(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from ${each.value}"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

module "db" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/rds/aws"
  version = "~> 7.0"

  identifier = var.identifier

  engine               = "postgres"
  engine_version       = var.engine_version
  family               = "postgres16"
  major_engine_version = "16"
  instance_class       = var.instance_class

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = module.kms.key_arn

  db_name  = var.db_name
  username = var.master_username
  port     = 5432

  manage_master_user_password   = true
  master_user_secret_kms_key_id = module.kms.key_arn

  iam_database_authentication_enabled = true

  multi_az               = var.multi_az
  create_db_subnet_group = false
  db_subnet_group_name   = var.db_subnet_group_name
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false

  backup_retention_period          = var.backup_retention_days
  backup_window                    = "03:00-04:00"
  maintenance_window               = "Sun:04:30-Sun:05:30"
  copy_tags_to_snapshot            = true
  deletion_protection              = var.deletion_protection
  skip_final_snapshot              = !var.deletion_protection
  final_snapshot_identifier_prefix = "${var.identifier}-final"
  auto_minor_version_upgrade       = true

  performance_insights_enabled          = var.performance_insights_enabled
  performance_insights_kms_key_id       = var.performance_insights_enabled ? module.kms.key_arn : null
  performance_insights_retention_period = var.performance_insights_enabled ? 7 : null

  create_monitoring_role = true
  monitoring_role_name   = "${var.identifier}-rds-monitoring"
  monitoring_interval    = 60

  enabled_cloudwatch_logs_exports        = ["postgresql", "upgrade"]
  create_cloudwatch_log_group            = true
  cloudwatch_log_group_retention_in_days = var.log_retention_days

  parameters = [
    # Refuse any connection that is not TLS.
    { name = "rds.force_ssl", value = "1" },
    { name = "log_min_duration_statement", value = "1000" },
    { name = "log_connections", value = "1" },
    { name = "log_disconnections", value = "1" },
  ]

  tags = var.tags
}
