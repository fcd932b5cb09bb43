#!/usr/bin/env bash
# Functions shared by primary.sh and replica.sh (sourced, never run on its own).
#
# Parameters arrive as environment variables written by the CDK app (lib/bootstrap-user-data.ts):
#   AWS_REGION, PGROUTE_STACK_ID, PGROUTE_LOGICAL_ID   where and what to signal when bootstrap ends
#   PGROUTE_PG_MAJOR                                    PostgreSQL major version (Amazon Linux 2023 package suffix)
#   PGROUTE_DATA_DEVICE                                 EBS device name of the data volume (e.g. /dev/sdf)
#   PGROUTE_VPC_CIDR, PGROUTE_TEST_RUNNER_CIDR          client networks allowed by pg_hba (the second may be empty)
#   PGROUTE_REPLICATION_USER, PGROUTE_REPLICATION_SECRET_ARN
#   PGROUTE_MAX_WAL_SENDERS, PGROUTE_MAX_REPLICATION_SLOTS, PGROUTE_MAX_SLOT_WAL_KEEP_SIZE
#   PGROUTE_WAL_BUCKET, PGROUTE_WAL_PREFIX              WAL archive in S3 (walArchive); empty bucket: no archiving
#   PGROUTE_SYNCHRONOUS_STANDBY, PGROUTE_SYNCHRONOUS_COMMIT   primary: its synchronous standby (empty: none)
# Passwords are read from Secrets Manager with the instance role and never printed.

# Fixed on EC2 (AL2023's postgresql.service uses /var/lib/pgsql/data). PGROUTE_PORT is the node's own port (the
# CDK app gives each node one: 5432 for the primary, 5432 + i for replica i). PGROUTE_ROOT,
# PGROUTE_LISTEN_ADDRESSES and PGROUTE_SYSTEMD_DIR exist so that test/bootstrap-scripts.int.test.ts and
# scripts/local-cluster.sh can run several nodes on one machine, on loopback only.
readonly PGROUTE_MOUNT=${PGROUTE_ROOT:-/var/lib/pgsql}
readonly PGDATA=$PGROUTE_MOUNT/data
readonly PGROUTE_TLS_DIR=$PGROUTE_MOUNT/tls
readonly PGROUTE_PORT=${PGROUTE_PORT:-5432}
readonly PGROUTE_LISTEN_ADDRESSES=${PGROUTE_LISTEN_ADDRESSES:-*}
readonly PGROUTE_SYSTEMD_DIR=${PGROUTE_SYSTEMD_DIR:-/etc/systemd/system}
# Where user data installed these scripts (wal-s3.sh is named in archive_command and restore_command).
PGROUTE_SCRIPT_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
readonly PGROUTE_SCRIPT_DIR

log() { printf '%s pgroute: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

die() {
  log "ERROR: $*"
  exit 1
}

require_env() {
  local name
  for name in "$@"; do
    [[ -n ${!name:-} ]] || die "environment variable $name is required"
  done
}

# retry <attempts> <delay-seconds> <command...>: AWS APIs and package mirrors can be briefly unreachable at boot.
retry() {
  local attempts=$1 delay=$2 n=1
  shift 2
  until "$@"; do
    if ((n >= attempts)); then
      return 1
    fi
    log "attempt $n/$attempts of '$1' failed; retrying in ${delay}s"
    sleep "$delay"
    n=$((n + 1))
  done
}

# imds <path>: instance metadata through IMDSv2 (the instances refuse IMDSv1).
imds() {
  local token
  token=$(curl -fsS --max-time 5 -X PUT http://169.254.169.254/latest/api/token \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
  curl -fsS --max-time 5 -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
}

# signal_cfn SUCCESS|FAILURE: completes the instance's CreationPolicy. A refused signal (the stack already
# finished, e.g. when the script is re-run by hand) is logged rather than fatal.
signal_cfn() {
  local status=$1 instance_id
  instance_id=$(imds meta-data/instance-id)
  if retry 3 5 aws cloudformation signal-resource --region "$AWS_REGION" --stack-name "$PGROUTE_STACK_ID" \
    --logical-resource-id "$PGROUTE_LOGICAL_ID" --unique-id "$instance_id" --status "$status" >/dev/null; then
    log "signalled $status to $PGROUTE_LOGICAL_ID"
  else
    log "CloudFormation did not accept the $status signal (stack already complete?)"
  fi
}

on_exit() {
  local status=$?
  if ((status != 0)); then
    log "bootstrap failed with exit status $status; details in /var/log/cloud-init-output.log"
    signal_cfn FAILURE
  fi
}

# begin_bootstrap <role>: validates the common parameters and makes any failure fail the deployment quickly.
begin_bootstrap() {
  require_env AWS_REGION PGROUTE_STACK_ID PGROUTE_LOGICAL_ID PGROUTE_PG_MAJOR PGROUTE_DATA_DEVICE \
    PGROUTE_VPC_CIDR PGROUTE_REPLICATION_USER PGROUTE_REPLICATION_SECRET_ARN PGROUTE_MAX_WAL_SENDERS \
    PGROUTE_MAX_REPLICATION_SLOTS PGROUTE_MAX_SLOT_WAL_KEEP_SIZE
  trap on_exit EXIT
  log "bootstrapping the $1 (PostgreSQL $PGROUTE_PG_MAJOR)"
}

# secret_password <secret-arn>: prints the generated password. The CDK app generates alphanumeric passwords
# only, which is also what makes them safe to embed in psql variables below.
secret_password() {
  local json password
  json=$(retry 10 6 aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$1" \
    --query SecretString --output text)
  password=$(jq -r '.password // empty' <<<"$json")
  [[ $password =~ ^[A-Za-z0-9]{16,}$ ]] || die "secret $1 has no alphanumeric 'password' of 16+ characters"
  printf '%s' "$password"
}

# require_data_mount: PostgreSQL must never start on the root volume's empty directory. The fstab entry has
# `nofail` (a missing volume must not stop the instance from booting, or SSM could not reach it), so a drop-in
# makes postgresql.service require the mount and start after it: without the volume, PostgreSQL stays down.
require_data_mount() {
  local dropin_dir=$PGROUTE_SYSTEMD_DIR/postgresql.service.d
  mkdir -p "$dropin_dir"
  printf '# Managed by the pgroute bootstrap (common.sh).\n[Unit]\nRequiresMountsFor=%s\n' "$PGROUTE_MOUNT" \
    >"$dropin_dir/pgroute-data-volume.conf"
  systemctl daemon-reload
}

# mount_data_volume: formats the data volume on first boot only and mounts it where PostgreSQL keeps its data.
mount_data_volume() {
  local device=$PGROUTE_DATA_DEVICE waited=0 uuid
  # amazon-ec2-utils' udev rules create the /dev/sdX alias of the NVMe device shortly after boot.
  while [[ ! -e $device ]]; do
    if ((waited >= 180)); then
      die "data volume $device did not appear within 180s"
    fi
    sleep 2
    waited=$((waited + 2))
  done
  device=$(readlink -f "$device")
  require_data_mount
  if mountpoint -q "$PGROUTE_MOUNT"; then
    return 0
  fi
  if ! blkid "$device" >/dev/null 2>&1; then
    log "formatting $device (first boot)"
    mkfs.xfs -q -L pgdata "$device"
  fi
  uuid=$(blkid -s UUID -o value "$device")
  if ! grep -q "^UUID=$uuid " /etc/fstab; then
    printf 'UUID=%s %s xfs defaults,noatime,nofail 0 2\n' "$uuid" "$PGROUTE_MOUNT" >>/etc/fstab
  fi
  mkdir -p "$PGROUTE_MOUNT"
  systemctl daemon-reload
  mount "$PGROUTE_MOUNT"
}

# install_postgres: Amazon Linux 2023 ships versioned packages (postgresqlNN, postgresqlNN-server) that provide
# postgresql.service with PGDATA=/var/lib/pgsql/data.
install_postgres() {
  local major=$PGROUTE_PG_MAJOR
  retry 5 15 dnf install -y -q "postgresql$major" "postgresql$major-server" jq openssl
  chown postgres:postgres "$PGROUTE_MOUNT"
  chmod 0700 "$PGROUTE_MOUNT"
  if command -v restorecon >/dev/null 2>&1; then
    restorecon -R "$PGROUTE_MOUNT"
  fi
}

# psql_admin: psql as the postgres superuser over the Unix socket (peer authentication, no password).
psql_admin() {
  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PGROUTE_PORT" "$@"
}

wait_for_local_postgres() {
  retry 60 2 runuser -u postgres -- pg_isready -q -p "$PGROUTE_PORT" || die "PostgreSQL did not start"
}

# ensure_tls_cert: a self-signed certificate per host, kept outside PGDATA so pg_basebackup never copies the
# primary's key to a replica. Clients use sslmode=require (encrypted, server not authenticated).
ensure_tls_cert() {
  local host ip
  if [[ -s $PGROUTE_TLS_DIR/server.crt && -s $PGROUTE_TLS_DIR/server.key ]]; then
    return 0
  fi
  host=$(hostname)
  ip=$(imds meta-data/local-ipv4)
  install -d -o postgres -g postgres -m 0700 "$PGROUTE_TLS_DIR"
  openssl req -x509 -newkey rsa:2048 -sha256 -days 825 -nodes -subj "/CN=$host" \
    -addext "subjectAltName=DNS:$host,IP:$ip" \
    -keyout "$PGROUTE_TLS_DIR/server.key" -out "$PGROUTE_TLS_DIR/server.crt" 2>/dev/null
  chown postgres:postgres "$PGROUTE_TLS_DIR/server.key" "$PGROUTE_TLS_DIR/server.crt"
  chmod 0600 "$PGROUTE_TLS_DIR/server.key"
}

# write_replication_modes <primary|replica>: WAL archiving to S3 (the primary archives, replicas fall back to
# restoring from the archive when streaming cannot serve them) and the primary's synchronous standby. Appended to
# pgroute.conf; the synchronous settings only take effect on a primary.
write_replication_modes() {
  if [[ -n ${PGROUTE_WAL_BUCKET:-} ]]; then
    printf 'PGROUTE_WAL_BUCKET=%s\nPGROUTE_WAL_PREFIX=%s\nPGROUTE_WAL_REGION=%s\n' "$PGROUTE_WAL_BUCKET" \
      "${PGROUTE_WAL_PREFIX:-wal}" "$AWS_REGION" >"$PGROUTE_SCRIPT_DIR/wal-s3.env"
    chmod 0644 "$PGROUTE_SCRIPT_DIR/wal-s3.env"
    if [[ $1 == primary ]]; then
      echo 'archive_mode = on'
      echo "archive_command = '$PGROUTE_SCRIPT_DIR/wal-s3.sh push \"%p\" \"%f\"'"
      echo "archive_timeout = '60s'"
    else
      echo "restore_command = '$PGROUTE_SCRIPT_DIR/wal-s3.sh fetch \"%f\" \"%p\"'"
    fi
  fi
  if [[ $1 == primary && -n ${PGROUTE_SYNCHRONOUS_STANDBY:-} ]]; then
    echo "synchronous_standby_names = 'FIRST 1 (\"$PGROUTE_SYNCHRONOUS_STANDBY\")'"
    echo "synchronous_commit = '${PGROUTE_SYNCHRONOUS_COMMIT:-on}'"
  fi
}

# write_server_config <primary|replica>: settings and pg_hba shared by primary and replicas (standbys need
# max_wal_senders and friends >= the primary's, so both get the same values), then the replication modes of the
# node's role. Rewritten on every run.
write_server_config() {
  ensure_tls_cert
  cat >"$PGDATA/pgroute.conf" <<EOF
# Managed by /opt/pgroute bootstrap; rewritten on every run.
listen_addresses = '$PGROUTE_LISTEN_ADDRESSES'
port = $PGROUTE_PORT
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = '$PGROUTE_TLS_DIR/server.crt'
ssl_key_file = '$PGROUTE_TLS_DIR/server.key'
ssl_min_protocol_version = 'TLSv1.2'
wal_level = replica
wal_log_hints = on
max_wal_senders = $PGROUTE_MAX_WAL_SENDERS
max_replication_slots = $PGROUTE_MAX_REPLICATION_SLOTS
max_slot_wal_keep_size = '$PGROUTE_MAX_SLOT_WAL_KEEP_SIZE'
hot_standby = on
hot_standby_feedback = on
EOF
  write_replication_modes "$1" >>"$PGDATA/pgroute.conf"
  if ! grep -qxF "include_if_exists = 'pgroute.conf'" "$PGDATA/postgresql.conf"; then
    printf "\ninclude_if_exists = 'pgroute.conf'\n" >>"$PGDATA/postgresql.conf"
  fi
  {
    echo '# Managed by /opt/pgroute bootstrap. TLS and SCRAM only; nothing outside these networks.'
    echo 'local   all          all                                    peer'
    echo "hostssl replication  $PGROUTE_REPLICATION_USER  $PGROUTE_VPC_CIDR  scram-sha-256"
    echo "hostssl all          all  $PGROUTE_VPC_CIDR  scram-sha-256"
    if [[ -n ${PGROUTE_TEST_RUNNER_CIDR:-} ]]; then
      echo "hostssl all          all  $PGROUTE_TEST_RUNNER_CIDR  scram-sha-256"
    fi
  } >"$PGDATA/pg_hba.conf"
  chown postgres:postgres "$PGDATA/pgroute.conf" "$PGDATA/pg_hba.conf"
  chmod 0600 "$PGDATA/pgroute.conf" "$PGDATA/pg_hba.conf"
}

start_postgres() {
  systemctl enable postgresql.service
  systemctl restart postgresql.service
  wait_for_local_postgres
}
