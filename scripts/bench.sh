#!/usr/bin/env bash
# Reproduces the "Earlier run" figures in BENCHMARKS.md (free-form `herald bench` load). The
# scenario table of issue 3 is produced by scripts/bench-all.sh.
#
# For each case it starts a fresh, durable `herald serve` (new data dir, no demo, no built-in
# simulator) next to one standalone `herald sim`, creates an app, an API key, a webhook account
# pointing at the simulator and a template through the HTTP API, runs `herald bench`, records
# the CPU seconds each process used, and stops the server with SIGTERM.
#
# Usage: scripts/bench.sh [output-dir]
#   HERALD_BIN=path     binary to measure (default: builds target/release/herald)
#   DURATION=30s        load duration per case
#   CASES="single batch" which cases to run
#   PERF=1              also profile the server with perf for 10 s of each case
#   SINGLE_CONNECTIONS=256  BATCH_CONNECTIONS=16  BATCH_SIZE=1000
#   SIM_PORT=18426  HERALD_PORT=18080
#   DRAIN=60s           how long bench waits after the load for deliveries to stop growing
# Needs curl, jq, bc, python3 and /usr/bin/time. Output: disk.txt (fsync probe), <case>.json
# (the bench report), <case>.txt (CPU seconds, /metrics, summary),
# logs of every process.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$(mktemp -d /tmp/herald-bench.XXXXXX)}"
DURATION="${DURATION:-30s}"
DRAIN="${DRAIN:-60s}"
CASES="${CASES:-single batch}"
SINGLE_CONNECTIONS="${SINGLE_CONNECTIONS:-256}"
BATCH_CONNECTIONS="${BATCH_CONNECTIONS:-16}"
BATCH_SIZE="${BATCH_SIZE:-1000}"
SIM_PORT="${SIM_PORT:-18426}"
HERALD_PORT="${HERALD_PORT:-18080}"
ADMIN_KEY="bench-admin-key-$(date +%s)-0123456789"
SIM="http://127.0.0.1:${SIM_PORT}"
API="http://127.0.0.1:${HERALD_PORT}"
mkdir -p "$OUT"

if [[ -z "${HERALD_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release -p herald)
  HERALD_BIN="$ROOT/target/release/herald"
fi

SIM_PID=""
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [[ -n "$SIM_PID" ]] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null || true
}
trap cleanup EXIT

wait_for() { # url
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "timed out waiting for $1" >&2
  return 1
}

# CPU seconds (user + system) a live process has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"
}

post() { # path key json
  curl -fsS -X POST "$API$1" -H "Authorization: Bearer $2" \
    -H 'Content-Type: application/json' -d "$3"
}

# The disk's own fsync rate, on the file system that holds the data dirs: 4 KiB appends, each
# followed by fsync (what a group commit costs at minimum).
python3 - "$OUT/fsync-probe.bin" <<'PY' | tee "$OUT/disk.txt"
import os, sys, time
path, n = sys.argv[1], 2000
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
lat = []
start = time.perf_counter()
for _ in range(n):
    os.write(fd, b"x" * 4096)
    t = time.perf_counter()
    os.fsync(fd)
    lat.append(time.perf_counter() - t)
total = time.perf_counter() - start
os.close(fd)
os.unlink(path)
lat.sort()
print(f"disk: {n / total:.0f} fsyncs/s (4 KiB append + fsync), fsync p50 {lat[n // 2] * 1e3:.2f} ms, "
      f"p99 {lat[int(n * 0.99)] * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms")
PY

"$HERALD_BIN" sim --listen "127.0.0.1:${SIM_PORT}" >"$OUT/sim.log" 2>&1 &
SIM_PID=$!
wait_for "$SIM/sim/stats"

run_case() { # name, then extra `herald bench` arguments
  local name="$1"; shift
  local data="$OUT/data-$name"
  rm -rf "$data"
  HERALD_SERVER__LISTEN="127.0.0.1:${HERALD_PORT}" \
  HERALD_STORAGE__DATA_DIR="$data" \
  HERALD_STORAGE__DURABLE=true \
  HERALD_SECURITY__ADMIN_KEY="$ADMIN_KEY" \
  HERALD_BOOTSTRAP__DEMO=false \
  HERALD_SIM__BUILTIN=false \
  HERALD_LOG__LEVEL=warn \
    "$HERALD_BIN" serve >"$OUT/serve-$name.log" 2>&1 &
  SERVER_PID=$!
  wait_for "$API/healthz"

  local app key account
  app=$(post /v1/apps "$ADMIN_KEY" "{\"name\":\"bench-$name\"}" | jq -r .id)
  key=$(post "/v1/apps/$app/keys" "$ADMIN_KEY" '{}' | jq -r .key)
  account=$(post /v1/accounts "$key" "{\"name\":\"bench-$name\",\"channel\":\"webhook\",
    \"config\":{\"url\":\"$SIM/sim/webhook/bench-$name\"},\"rate_limit_per_second\":0,
    \"retry\":{\"delays_ms\":[1000,5000,10000],\"jitter_percent\":20}}" | jq -r .id)
  post /v1/templates "$key" "{\"name\":\"bench\",\"channel\":\"webhook\",\"account\":\"$account\",
    \"variables\":[{\"name\":\"name\"}],\"content\":{\"body\":\"Hello {{ name }}\"}}" >/dev/null

  local server_cpu0 sim_cpu0 started
  server_cpu0=$(cpu_seconds "$SERVER_PID")
  sim_cpu0=$(cpu_seconds "$SIM_PID")
  started=$(date +%s.%N)
  echo "== $name: herald bench $* (server pid $SERVER_PID)" >"$OUT/$name.txt"
  local perf_pid=""
  if [[ -n "${PERF:-}" ]]; then
    # Profile the server for 10 s in the middle of the load (starts 5 s in).
    (sleep 5 && perf record -q -F 499 -g -p "$SERVER_PID" -o "$OUT/$name.perf.data" -- sleep 10 \
      >/dev/null 2>&1) &
    perf_pid=$!
  fi
  # /usr/bin/time reports the load generator's own CPU use (it shares the cores).
  /usr/bin/time -a -o "$OUT/$name.txt" \
    -f "herald bench CPU seconds: user %U system %S (max RSS %M KiB)" \
    "$HERALD_BIN" bench --url "$API" --key "$key" --template bench --duration "$DURATION" \
      --sim-url "$SIM" --sim-account "bench-$name" --drain "$DRAIN" \
      --server-pid "$SERVER_PID" --json "$@" >"$OUT/$name.json"
  local wall server_cpu sim_cpu
  wall=$(echo "$(date +%s.%N) - $started" | bc)
  server_cpu=$(echo "$(cpu_seconds "$SERVER_PID") - $server_cpu0" | bc)
  sim_cpu=$(echo "$(cpu_seconds "$SIM_PID") - $sim_cpu0" | bc)
  {
    echo "wall seconds (load + drain): $wall"
    echo "herald serve CPU seconds: $server_cpu"
    echo "herald sim CPU seconds: $sim_cpu"
    curl -fsS "$API/metrics" | grep -E '^herald_(fsync_total|commits_total|commit_items_total|commit_batch_mean|commit_latency_mean_ms|accepted_total|delivered_total|attempts_total|retries_total|peak_rss_bytes|queue_depth)'
    jq '{accepted_per_sec, receivers_accepted_per_sec, errors, latency_ms,
         delivered_per_sec_during_run: .delivery.delivered_per_sec_during_run,
         delivered_per_sec_overall: .delivery.delivered_per_sec_overall,
         drain_settled: .delivery.drain_settled, undelivered: .delivery.undelivered,
         duplicates: .delivery.after_drain.duplicates, server}' "$OUT/$name.json"
  } >>"$OUT/$name.txt"
  if [[ -n "$perf_pid" ]]; then
    wait "$perf_pid" || true
    perf report -i "$OUT/$name.perf.data" --no-children --sort comm,dso --stdio 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | head -15 >"$OUT/$name.perf-threads.txt" || true
    perf report -i "$OUT/$name.perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | head -40 >"$OUT/$name.perf-symbols.txt" || true
  fi
  cat "$OUT/$name.txt"

  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || echo "herald serve exited with status $?" | tee -a "$OUT/$name.txt"
  SERVER_PID=""
}

for case in $CASES; do
  case "$case" in
    single) run_case single --connections "$SINGLE_CONNECTIONS" ;;
    batch) run_case batch --connections "$BATCH_CONNECTIONS" --batch-size "$BATCH_SIZE" ;;
    *) echo "unknown case $case (single, batch)" >&2; exit 2 ;;
  esac
done
echo "results in $OUT"
