#!/usr/bin/env bash
# Bootstraps the primary: data volume, PostgreSQL, TLS, replication settings, the replication and application
# roles, the application database and one physical replication slot per replica; then signals CloudFormation.
# Safe to re-run: every step checks what already exists.
#
# Parameters (besides those listed in common.sh):
#   PGROUTE_APP_USER, PGROUTE_APP_SECRET_ARN   application role and the secret holding its password
#   PGROUTE_DATABASE                           application database, owned by the application role
#   PGROUTE_REPLICA_SLOTS                      space-separated slot names, one per replica
set -euo pipefail

# shellcheck source=common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/common.sh"

begin_bootstrap primary
require_env PGROUTE_APP_USER PGROUTE_APP_SECRET_ARN PGROUTE_DATABASE PGROUTE_REPLICA_SLOTS

mount_data_volume
install_postgres

if [[ ! -f $PGDATA/PG_VERSION ]]; then
  # C.UTF-8 when the system has it (UTF-8 character classes, byte-order collation), else plain C.
  initdb_locale=C
  if grep -qix 'c\.utf-\?8' <<<"$(locale -a 2>/dev/null || true)"; then
    initdb_locale=C.UTF-8
  fi
  log "initialising $PGDATA (locale $initdb_locale)"
  PGSETUP_INITDB_OPTIONS="--encoding=UTF8 --locale=$initdb_locale --data-checksums --auth-local=peer --auth-host=scram-sha-256" \
    postgresql-setup --initdb
fi
actual_major=$(<"$PGDATA/PG_VERSION")
[[ $actual_major == "$PGROUTE_PG_MAJOR" ]] || die "$PGDATA holds PostgreSQL $actual_major, expected $PGROUTE_PG_MAJOR"

write_server_config primary
start_postgres

app_password=$(secret_password "$PGROUTE_APP_SECRET_ARN")
replication_password=$(secret_password "$PGROUTE_REPLICATION_SECRET_ARN")

# The application role is what the integration suites log in as: CREATEDB gives each suite a database of its own
# (@pgroute/cluster/testing), pg_monitor lets the router read replication state. The session commits locally:
# a synchronous standby (synchronousReplica) does not exist yet, it clones this primary after it signalled.
# Passwords travel on stdin (never argv) and the session stops the server from logging failed statements, so
# they reach neither `ps` nor the server log. Identifiers and slot names are validated by the CDK app.
log "creating roles, database '$PGROUTE_DATABASE' and slots: $PGROUTE_REPLICA_SLOTS"
psql_admin -d postgres >/dev/null <<SQL
SET log_min_error_statement = panic;
SET log_statement = none;
SET synchronous_commit = local;
\set app_user '$PGROUTE_APP_USER'
\set app_password '$app_password'
\set replication_user '$PGROUTE_REPLICATION_USER'
\set replication_password '$replication_password'
\set database '$PGROUTE_DATABASE'
\set slots '$PGROUTE_REPLICA_SLOTS'
SELECT format('CREATE ROLE %I', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
ALTER ROLE :"app_user" WITH LOGIN NOSUPERUSER NOREPLICATION CREATEDB PASSWORD :'app_password';
GRANT pg_monitor TO :"app_user";
SELECT format('CREATE ROLE %I', :'replication_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'replication_user') \gexec
ALTER ROLE :"replication_user" WITH LOGIN NOSUPERUSER REPLICATION PASSWORD :'replication_password';
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
SELECT pg_create_physical_replication_slot(slot)
  FROM unnest(string_to_array(:'slots', ' ')) AS slot
  WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = slot);
-- Wakes the checkpointer: it computed its first sleep while the server was starting, when archive_timeout does not
-- count, and would otherwise close the first segment only after checkpoint_timeout (5 min).
CHECKPOINT;
SQL

# End-to-end check of what clients will do: TLS + SCRAM from the VPC address, as the application role.
private_ip=$(imds meta-data/local-ipv4)
ssl_in_use=$(PGPASSWORD=$app_password psql -X -At \
  "host=$private_ip port=$PGROUTE_PORT dbname=$PGROUTE_DATABASE user=$PGROUTE_APP_USER sslmode=require connect_timeout=10" \
  -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
[[ $ssl_in_use == t ]] || die "application login over TLS did not use TLS"

log "primary ready at $private_ip:$PGROUTE_PORT"
signal_cfn SUCCESS
