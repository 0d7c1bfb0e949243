#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory: creates the
# read-only role the API and Grafana connect as. Tables and views that `myhealth migrate`
# (connected as the owner, myhealth) creates later are readable by it through the default
# privileges; it can never write.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v reader_password="$READER_PASSWORD" -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE myhealth_reader LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"db" TO myhealth_reader;
GRANT USAGE ON SCHEMA public TO myhealth_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO myhealth_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO myhealth_reader;
ALTER ROLE myhealth_reader SET default_transaction_read_only = on;
SQL
