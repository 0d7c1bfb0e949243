#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory: creates the
# read-only role the API and Grafana connect as. It gets no table privileges here: every
# `myhealth migrate` (the `migrate` service) grants it SELECT on exactly the relations listed
# in src/myhealth/storage/reader_access.py — never `oauth_tokens`, and no table a later
# migration adds unless it is listed there. It can never write.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v reader_password="$READER_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE myhealth_reader LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"db" TO myhealth_reader;
GRANT USAGE ON SCHEMA public TO myhealth_reader;
ALTER ROLE myhealth_reader SET default_transaction_read_only = on;
SQL
