#!/usr/bin/env bash
# Bootstraps a hot standby: waits for the primary, clones it with pg_basebackup through this replica's own
# physical slot, starts PostgreSQL in recovery and signals CloudFormation only once the WAL receiver streams.
# Safe to re-run: an existing standby data directory is kept.
#
# Parameters (besides those listed in common.sh):
#   PGROUTE_PRIMARY_HOST   private address of the primary
#   PGROUTE_SLOT           physical replication slot created for this replica by primary.sh
#   PGROUTE_PRIMARY_PORT   the primary's port when it differs from PGROUTE_PORT (local tests only)
set -euo pipefail

# shellcheck source=common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/common.sh"

readonly PASSFILE=$PGROUTE_MOUNT/.pgpass
readonly PRIMARY_PORT=${PGROUTE_PRIMARY_PORT:-$PGROUTE_PORT}
readonly PRIMARY_WAIT_SECONDS=900
readonly STREAMING_WAIT_SECONDS=600

begin_bootstrap "replica using slot ${PGROUTE_SLOT:-?}"
require_env PGROUTE_PRIMARY_HOST PGROUTE_SLOT

mount_data_volume
install_postgres

# The WAL receiver reads the password from this file at every (re)connection; primary_conninfo names it.
replication_password=$(secret_password "$PGROUTE_REPLICATION_SECRET_ARN")
printf '%s:%s:*:%s:%s\n' "$PGROUTE_PRIMARY_HOST" "$PRIMARY_PORT" "$PGROUTE_REPLICATION_USER" \
  "$replication_password" >"$PASSFILE"
chown postgres:postgres "$PASSFILE"
chmod 0600 "$PASSFILE"

log "waiting for the primary at $PGROUTE_PRIMARY_HOST:$PRIMARY_PORT"
deadline=$((SECONDS + PRIMARY_WAIT_SECONDS))
until pg_isready -q -h "$PGROUTE_PRIMARY_HOST" -p "$PRIMARY_PORT" -t 5; do
  ((SECONDS < deadline)) || die "primary not reachable within ${PRIMARY_WAIT_SECONDS}s"
  sleep 5
done

# Chained with && because retry runs it as a condition, where errexit does not apply.
clone_primary() {
  systemctl stop postgresql.service || true
  rm -rf "$PGDATA" &&
    install -d -o postgres -g postgres -m 0700 "$PGDATA" &&
    runuser -u postgres -- pg_basebackup --pgdata="$PGDATA" --write-recovery-conf --slot="$PGROUTE_SLOT" \
      --wal-method=stream --checkpoint=fast --no-password \
      --dbname="host=$PGROUTE_PRIMARY_HOST port=$PRIMARY_PORT user=$PGROUTE_REPLICATION_USER passfile=$PASSFILE sslmode=require application_name=$PGROUTE_SLOT"
}

if [[ -f $PGDATA/standby.signal && -f $PGDATA/PG_VERSION ]]; then
  log "standby data directory already present; keeping it"
else
  log "cloning the primary with pg_basebackup (slot $PGROUTE_SLOT)"
  retry 3 20 clone_primary || die "pg_basebackup failed"
fi

write_server_config replica
start_postgres

log "waiting for the WAL receiver to stream"
deadline=$((SECONDS + STREAMING_WAIT_SECONDS))
while :; do
  status=$(psql_admin -At -d postgres -c 'SELECT status FROM pg_stat_wal_receiver' || true)
  [[ $status == streaming ]] && break
  ((SECONDS < deadline)) || die "WAL receiver not streaming after ${STREAMING_WAIT_SECONDS}s (status: ${status:-none})"
  sleep 3
done
in_recovery=$(psql_admin -At -d postgres -c 'SELECT pg_is_in_recovery()')
[[ $in_recovery == t ]] || die "server is not in recovery"

log "hot standby streaming from $PGROUTE_PRIMARY_HOST"
signal_cfn SUCCESS
