#!/usr/bin/env bash
# Builds the EC2 cluster on this machine: a primary and N hot standbys on loopback, bootstrapped by the very
# scripts the instances run (primary.sh, replica.sh, common.sh) on Debian's PostgreSQL. Only what cannot exist
# off EC2 is replaced, by the stand-ins of test/fixtures/fake-bin (dnf, the AWS CLI with Secrets Manager and
# CloudFormation signals, IMDS through curl, systemctl, postgresql-setup, mountpoint), as in
# test/bootstrap-scripts.int.test.ts. The URLs come from the real `env` script (scripts/stack-env.ts) reading a
# stack-outputs file written for these nodes.
#
# Usage (as root: the scripts run PostgreSQL as the `postgres` user, like on EC2):
#   infra/scripts/local-cluster.sh up        build and start the cluster, write its env file
#   infra/scripts/local-cluster.sh env       print the `export PGROUTE_PRIMARY_URL=... PGROUTE_REPLICA_URLS=...` lines
#   infra/scripts/local-cluster.sh stats     sessions and committed transactions so far, per node, in the
#                                            application database and the suites' databases (pg_stat_database)
#   infra/scripts/local-cluster.sh down      stop every server and remove the data
#   infra/scripts/local-cluster.sh run CMD…  up, run CMD with the URLs exported, print stats before and after, down;
#                                            fails if CMD fails or leaves a node without new sessions and commits
#
# Settings (environment): PGROUTE_LOCAL_DIR (default ${TMPDIR:-/tmp}/pgroute-local-cluster; `run` without it uses
# a fresh directory of its own, so runs side by side never meet), PGROUTE_LOCAL_PORT (primary port; replica i gets
# port + i; default: the first run of free ports from 55432 up, skipping ports in use), PGROUTE_LOCAL_REPLICAS
# (default 2), PGROUTE_PG_BIN (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

INFRA_DIR=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
readonly INFRA_DIR
BASE=${PGROUTE_LOCAL_DIR:-${TMPDIR:-/tmp}/pgroute-local-cluster}
# The primary's port: chosen by `up` (PGROUTE_LOCAL_PORT, or the first free run) and kept in $BASE/port.
FIRST_PORT=
readonly REPLICAS=${PGROUTE_LOCAL_REPLICAS:-2}
readonly DEFAULT_FIRST_PORT=55432
readonly PORT_ATTEMPTS=50
readonly REGION=us-east-1
readonly DATABASE=pgroute
readonly STACK=PgrouteLocalCluster

log() { printf 'local-cluster: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

pg_bin() {
  if [[ -n ${PGROUTE_PG_BIN:-} ]]; then
    printf '%s' "$PGROUTE_PG_BIN"
    return
  fi
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n $dir && -x $dir/pg_basebackup ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
  printf '%s' "$dir"
}

node_names() {
  local i
  echo primary
  for ((i = 1; i <= REPLICAS; i++)); do echo "replica-$i"; done
}

port_of() {
  if [[ $1 == primary ]]; then echo "$FIRST_PORT"; else echo $((FIRST_PORT + ${1#replica-})); fi
}

# port_in_use <port>: something accepts connections there.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ports_free <first>: the primary's port and every replica's port after it are free.
ports_free() {
  local port
  for ((port = $1; port <= $1 + REPLICAS; port++)); do
    if port_in_use "$port"; then return 1; fi
  done
}

# choose_ports: PGROUTE_LOCAL_PORT when given (an error if taken), else the first free run from 55432 up.
choose_ports() {
  local first i
  if [[ -n ${PGROUTE_LOCAL_PORT:-} ]]; then
    ports_free "$PGROUTE_LOCAL_PORT" ||
      die "a port of $PGROUTE_LOCAL_PORT..$((PGROUTE_LOCAL_PORT + REPLICAS)) (PGROUTE_LOCAL_PORT) is in use"
    FIRST_PORT=$PGROUTE_LOCAL_PORT
    return
  fi
  for ((i = 0; i < PORT_ATTEMPTS; i++)); do
    first=$((DEFAULT_FIRST_PORT + i * (REPLICAS + 1)))
    if ports_free "$first"; then
      FIRST_PORT=$first
      ((i == 0)) || log "ports from $DEFAULT_FIRST_PORT are in use: using $FIRST_PORT..$((FIRST_PORT + REPLICAS))"
      return
    fi
  done
  die "no free run of $((REPLICAS + 1)) ports from $DEFAULT_FIRST_PORT up; choose one with PGROUTE_LOCAL_PORT"
}

# load_ports: the ports of the cluster `up` built in $BASE.
load_ports() {
  [[ -s $BASE/port ]] || die "no cluster in $BASE; run '$0 up' first"
  FIRST_PORT=$(<"$BASE/port")
}

arn() { printf 'arn:aws:secretsmanager:%s:123456789012:secret:%s' "$REGION" "$1"; }

# run_bootstrap <script> <node> [NAME=value...]: runs primary.sh or replica.sh for one node, as cloud-init would.
run_bootstrap() {
  local script=$1 node=$2 bin
  shift 2
  bin=$(pg_bin)
  mkdir -p "$BASE/$node"
  log "bootstrapping $node with $script (port $(port_of "$node"))"
  if ! env -i PATH="$INFRA_DIR/test/fixtures/fake-bin:$bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root LANG=C.UTF-8 \
    FAKE_AWS_DIR="$BASE/aws" PGROUTE_ROOT="$BASE/$node" PGROUTE_PORT="$(port_of "$node")" \
    PGROUTE_SYSTEMD_DIR="$BASE/$node/systemd" \
    PGROUTE_LISTEN_ADDRESSES=127.0.0.1 AWS_REGION=$REGION \
    PGROUTE_STACK_ID="arn:aws:cloudformation:$REGION:123456789012:stack/$STACK/local" \
    PGROUTE_PG_MAJOR="$("$bin/postgres" --version | grep -oE '[0-9]+' | head -n 1)" \
    PGROUTE_DATA_DEVICE=/dev/null PGROUTE_VPC_CIDR=127.0.0.0/8 PGROUTE_TEST_RUNNER_CIDR= \
    PGROUTE_REPLICATION_USER=replicator PGROUTE_REPLICATION_SECRET_ARN="$(arn replication)" \
    PGROUTE_MAX_WAL_SENDERS=10 PGROUTE_MAX_REPLICATION_SLOTS=10 PGROUTE_MAX_SLOT_WAL_KEEP_SIZE=1GB \
    "$@" bash "$INFRA_DIR/scripts/$script" >"$BASE/$node.log" 2>&1; then
    tail -n 20 "$BASE/$node.log" >&2
    die "$script failed for $node (log: $BASE/$node.log)"
  fi
}

up() {
  [[ $(id -u) == 0 ]] || die "run as root: the bootstrap scripts run PostgreSQL as the postgres user"
  id postgres >/dev/null 2>&1 || die "no postgres user (apt-get install postgresql)"
  [[ ! -e $BASE/env ]] || die "$BASE already holds a cluster; run '$0 down' first"
  local slots=() i
  choose_ports
  mkdir -p "$BASE/aws/secrets"
  chmod 0755 "$BASE" # the postgres user must reach the data directories inside
  echo "$FIRST_PORT" >"$BASE/port"
  : >"$BASE/aws/signals"
  (
    umask 077
    printf '{"username":"pgroute_app","password":"%s"}' "$(openssl rand -hex 16)" >"$BASE/aws/secrets/app"
    printf '{"username":"replicator","password":"%s"}' "$(openssl rand -hex 16)" >"$BASE/aws/secrets/replication"
  )
  for ((i = 1; i <= REPLICAS; i++)); do slots+=("replica_$i"); done
  run_bootstrap primary.sh primary PGROUTE_LOGICAL_ID=Primary PGROUTE_APP_USER=pgroute_app \
    PGROUTE_APP_SECRET_ARN="$(arn app)" PGROUTE_DATABASE=$DATABASE PGROUTE_REPLICA_SLOTS="${slots[*]}"
  for ((i = 1; i <= REPLICAS; i++)); do
    run_bootstrap replica.sh "replica-$i" PGROUTE_LOGICAL_ID="Replica$i" PGROUTE_PRIMARY_HOST=127.0.0.1 \
      PGROUTE_PRIMARY_PORT="$FIRST_PORT" PGROUTE_SLOT="replica_$i"
  done
  log "CloudFormation signals: $(paste -sd ' ' "$BASE/aws/signals")"
  write_env
}

# write_env: the outputs `cdk deploy --outputs-file` would write for these nodes, turned into URLs by the real
# `env` script (the fake AWS CLI serves the secret).
write_env() {
  local replicas=() i
  for ((i = 1; i <= REPLICAS; i++)); do replicas+=("127.0.0.1:$((FIRST_PORT + i))"); done
  printf '{"%s":{"PrimaryEndpoint":"127.0.0.1:%s","ReplicaEndpoints":"%s","DatabaseName":"%s","AppSecretArn":"%s"}}\n' \
    "$STACK" "$FIRST_PORT" "$(
      IFS=,
      echo "${replicas[*]}"
    )" "$DATABASE" "$(arn app)" >"$BASE/outputs.json"
  (
    umask 077
    PATH="$INFRA_DIR/test/fixtures/fake-bin:$PATH" FAKE_AWS_DIR="$BASE/aws" \
      "$INFRA_DIR/../node_modules/.bin/tsx" "$INFRA_DIR/scripts/stack-env.ts" --outputs "$BASE/outputs.json" \
      >"$BASE/env.tmp"
  )
  mv "$BASE/env.tmp" "$BASE/env"
  log "up: primary on 127.0.0.1:$FIRST_PORT, $REPLICAS replicas; URLs in $BASE/env"
}

print_env() {
  [[ -s $BASE/env ]] || die "no cluster in $BASE; run '$0 up' first"
  cat "$BASE/env"
}

stats() {
  local node
  load_ports
  printf '%-10s %-6s %9s %9s %12s\n' node port databases sessions xact_commit
  for node in $(node_names); do
    printf '%-10s %-6s %s\n' "$node" "$(port_of "$node")" "$(
      runuser -u postgres -- psql -XAtq -F ' ' -p "$(port_of "$node")" -d postgres -c \
        "SELECT lpad(count(*)::text, 9), lpad(sum(sessions)::text, 9), lpad(sum(xact_commit)::text, 12)
           FROM pg_stat_database WHERE datname = '$DATABASE' OR datname LIKE 'pgroute\\_test\\_%'" 2>/dev/null ||
        echo 'not running'
    )"
  done
}

down() {
  local node bin
  [[ -d $BASE ]] || return 0
  bin=$(pg_bin)
  for node in $(node_names); do
    # Stopped by data directory: works whatever ports `up` chose, even if it failed before recording them.
    if [[ -f $BASE/$node/data/postmaster.pid ]]; then
      runuser -u postgres -- "$bin/pg_ctl" -D "$BASE/$node/data" -m fast -w stop >/dev/null ||
        runuser -u postgres -- "$bin/pg_ctl" -D "$BASE/$node/data" -m immediate -w stop >/dev/null || true
    fi
  done
  rm -rf "$BASE"
  log "down: servers stopped, $BASE removed"
}

run() {
  (($# > 0)) || die "usage: $0 run <command...>"
  # A directory of its own unless one is named: a second run on the same machine never meets this one.
  if [[ -z ${PGROUTE_LOCAL_DIR:-} ]]; then BASE=$(mktemp -d "${TMPDIR:-/tmp}/pgroute-local-cluster.XXXXXX"); fi
  trap down EXIT
  local started=$SECONDS
  up
  log "cluster up in $((SECONDS - started)) s"
  # shellcheck disable=SC1091 # written by up
  source "$BASE/env"
  # The suites' databases stay until `down`, so that their statistics can be read after the run.
  export PGROUTE_PRIMARY_URL PGROUTE_REPLICA_URLS PGROUTE_KEEP_TEST_DATABASES=1
  log "before the run:"
  stats | tee "$BASE/stats.before" >&2
  local status=0 ran=$SECONDS node
  "$@" || status=$?
  log "command finished in $((SECONDS - ran)) s (exit status $status); after the run:"
  stats | tee "$BASE/stats.after" >&2
  if ((status == 0)); then
    # The run must have reached every node: sessions and committed transactions rise on each one.
    for node in $(node_names); do
      read -r _ _ _ before_sessions before_commits < <(grep "^$node " "$BASE/stats.before")
      read -r _ _ _ after_sessions after_commits < <(grep "^$node " "$BASE/stats.after")
      if ((after_sessions <= before_sessions || after_commits <= before_commits)); then
        log "ERROR: $node got no traffic from the run (sessions $before_sessions -> $after_sessions, commits $before_commits -> $after_commits)"
        status=1
      fi
    done
  fi
  return "$status"
}

case ${1:-} in
up) up ;;
env) print_env ;;
stats) stats ;;
down) down ;;
run)
  shift
  run "$@"
  ;;
*)
  sed -n '9,21p' "$0" >&2
  exit 2
  ;;
esac
