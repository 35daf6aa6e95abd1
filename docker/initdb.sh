#!/bin/sh
# Runs once, when the db volume is new: creates the application's role, which owns nothing.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE trialsite_app LOGIN PASSWORD '${APP_DB_PASSWORD}';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
