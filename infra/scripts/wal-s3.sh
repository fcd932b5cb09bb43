#!/usr/bin/env bash
# WAL archiving to S3 (the walArchive option): PostgreSQL's archive_command and restore_command.
#   wal-s3.sh push <path> <file>    archive_command = '<dir>/wal-s3.sh push "%p" "%f"'   (the primary)
#   wal-s3.sh fetch <file> <path>   restore_command = '<dir>/wal-s3.sh fetch "%f" "%p"'  (the replicas)
# Bucket, key prefix and region come from wal-s3.env beside this script (written by common.sh); the instance role
# may put (primary) and get objects under that prefix only. Segments are stored gzip-compressed as <file>.gz.
# Exit status 0 only when the segment is safely in S3 (push) or was fetched whole (fetch): PostgreSQL keeps a
# segment and retries until push succeeds, and treats a failed fetch as "not archived yet".
set -euo pipefail

# shellcheck source=/dev/null
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/wal-s3.env"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case ${1:-} in
push)
  [[ $# == 3 ]] || exit 2
  key=$PGROUTE_WAL_PREFIX/$3.gz
  # -n: no name or time in the header, so the same segment always compresses to the same bytes.
  gzip -1 -n -c "$2" >"$work/segment.gz"
  sum=$(openssl dgst -sha256 -binary "$work/segment.gz" | base64)
  # Never overwrite: a segment archived before (the archiver retries after a crash) passes only if it is the same.
  if existing=$(aws s3api head-object --region "$PGROUTE_WAL_REGION" --bucket "$PGROUTE_WAL_BUCKET" \
    --key "$key" --checksum-mode ENABLED --query ChecksumSHA256 --output text 2>&1); then
    [[ $existing == "$sum" ]] && exit 0
    echo "wal-s3: s3://$PGROUTE_WAL_BUCKET/$key exists with other content; not overwriting it" >&2
    exit 1
  fi
  # Without s3:ListBucket a missing key answers 403, with it 404; anything else is a failure to report.
  if [[ $existing != *"(404)"* && $existing != *"(403)"* ]]; then
    echo "wal-s3: $existing" >&2
    exit 1
  fi
  # S3 verifies the SHA-256 on receipt: a segment damaged on the way is refused, not stored.
  aws s3api put-object --region "$PGROUTE_WAL_REGION" --bucket "$PGROUTE_WAL_BUCKET" --key "$key" \
    --body "$work/segment.gz" --checksum-algorithm SHA256 --checksum-sha256 "$sum" >/dev/null
  ;;
fetch)
  [[ $# == 3 ]] || exit 2
  # Quiet while the segment is not archived (yet): the standby asks again later.
  aws s3api get-object --region "$PGROUTE_WAL_REGION" --bucket "$PGROUTE_WAL_BUCKET" \
    --key "$PGROUTE_WAL_PREFIX/$2.gz" --checksum-mode ENABLED "$work/segment.gz" >/dev/null 2>&1 || exit 1
  gzip -dc "$work/segment.gz" >"$work/segment"
  mv "$work/segment" "$3"
  ;;
*)
  echo "usage: wal-s3.sh push <path> <file> | fetch <file> <path>" >&2
  exit 2
  ;;
esac
