#!/usr/bin/env bash
# Runs `pnpm test` several times in a row while CPU hogs keep every core busy, and prints one line per run: the
# suites must not depend on a quiet machine (timing asserts order and outcome, probes allow for a slow answer).
# The hogs are started here and always stopped here (trap), whatever happens.
#
# Usage: bash bench/scripts/test-under-load.sh [runs]    (pnpm test:load; default 3 runs)
# Settings (environment): LOAD_HOGS (default: one per CPU), LOAD_LOG_DIR (default: a fresh directory under /tmp,
# where each run's full output is kept).
set -euo pipefail
cd "$(dirname "$0")/../.."

readonly RUNS=${1:-3}
readonly HOGS=${LOAD_HOGS:-$(nproc)}
LOG_DIR=${LOAD_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/pgroute-test-under-load.XXXXXX")}
readonly LOG_DIR
mkdir -p "$LOG_DIR"
hogs=()

stop_hogs() {
  local pid
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_hogs EXIT

for ((i = 0; i < HOGS; i++)); do
  node -e 'for (;;) {}' &
  hogs+=("$!")
done
echo "test-under-load: $HOGS CPU hogs (pids ${hogs[*]}) on $(nproc) CPUs; $RUNS runs of pnpm test; logs in $LOG_DIR"

passed=0
for ((run = 1; run <= RUNS; run++)); do
  started=$SECONDS
  status=0
  pnpm test >"$LOG_DIR/run-$run.log" 2>&1 || status=$?
  summary=$(sed -e 's/\x1b\[[0-9;]*m//g' "$LOG_DIR/run-$run.log" | grep -E '^ +(Test Files|Tests) ' | tr -s ' ' | paste -sd ';' -)
  load=$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo '?')
  echo "run $run: exit $status in $((SECONDS - started)) s, load average $load;$summary"
  if ((status == 0)); then passed=$((passed + 1)); else
    sed -e 's/\x1b\[[0-9;]*m//g' "$LOG_DIR/run-$run.log" | grep -E '^ *(×|FAIL) ' | head -20 || true
  fi
done
echo "test-under-load: $passed of $RUNS runs passed"
((passed == RUNS))
