#!/usr/bin/env bash
# Runs the whole suite (`npm test`) several times back to back while a CPU-bound process runs beside
# it, and prints each run's result and duration: the suite must not depend on having the machine to
# itself (no test asserts on time or rate a busy machine can break).
#
#   bash scripts/suite-beside-hog.sh [runs]   # default 3; logs in $SUITE_LOG_DIR (default /tmp)
#
# The hog is one process spinning on one core (`node -e 'for(;;){}'`), niced like any other
# process: on a 2-core machine it takes a core's worth of CPU from the suite for the whole time.
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
logs="${SUITE_LOG_DIR:-/tmp}"
mkdir -p "$logs"

node -e 'for (;;) {}' &
hog=$!
trap 'kill "$hog" 2>/dev/null' EXIT
echo "CPU hog: pid $hog; $(nproc) cores; load $(cut -d' ' -f1 /proc/loadavg)"

npm run build >/dev/null
failed=0
for i in $(seq 1 "$runs"); do
  log="$logs/suite-beside-hog-$i.log"
  start=$(date +%s)
  node scripts/run-tests.mjs >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  [ "$rc" = 0 ] || failed=1
  # node:test's summary lines (# tests N, # pass N, …), summed over the runner's phases.
  summary=$(awk '/^# (tests|pass|fail|cancelled|skipped) [0-9]+$/ { n[$2] += $3 }
    END { printf "tests %d, pass %d, fail %d, cancelled %d, skipped %d", n["tests"], n["pass"], n["fail"], n["cancelled"], n["skipped"] }' "$log")
  echo "run $i: exit $rc in ${took} s; ${summary}; hog still running: $(kill -0 "$hog" 2>/dev/null && echo yes || echo no); log $log"
done
exit "$failed"
