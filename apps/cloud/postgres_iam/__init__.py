"""PostgreSQL reached through RDS Proxy with IAM authentication (``DB_IAM_AUTH``): the
Django database engine ``apps.cloud.postgres_iam`` (its ``base`` module)."""
