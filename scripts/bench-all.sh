#!/usr/bin/env bash
# Runs every `herald bench` scenario of issue 3 and writes the result table into BENCHMARKS.md
# (between the bench-table markers).
#
# One standalone `herald sim` and one `herald bench bare-server` run for the whole script; each
# scenario gets a fresh, durable `herald serve` (new data dir, so peak RSS and backlogs do not
# carry over), provisions its own app/key/account/template through the API (--admin-key), and
# stops the server with SIGTERM afterwards.
#
# Usage: scripts/bench-all.sh [output-dir]
#   FULL=1              the issue's sizes: 60 s per scenario, 10,000,000 messages for search,
#                       1,500,000 preloaded deliveries (default: a quick pass, see below)
#   DURATION=10s        measured duration per scenario (quick pass default)
#   SCENARIOS="single bare batch deliver rate latency e2e search"   which to run
#   SEARCH_MESSAGES=200000  DELIVER_PRELOAD=200000   (quick pass defaults)
#   HERALD_BIN=path     binary to measure (default: builds target/release/herald)
#   BENCH_COMMIT=text   what to call the measured source in the heading (default: git describe)
#   WRITE=0             do not touch BENCHMARKS.md (the table is still in <output-dir>/table.md)
#   HERALD_PORT=18080 SIM_PORT=18426 BARE_PORT=18090
# Needs curl. Output per scenario: <name>.json (result), <name>.txt (printed report), logs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$(mktemp -d /tmp/herald-bench-all.XXXXXX)}"
if [[ -n "${FULL:-}" ]]; then
  DURATION="${DURATION:-60s}"
  SEARCH_MESSAGES="${SEARCH_MESSAGES:-10000000}"
  DELIVER_PRELOAD="${DELIVER_PRELOAD:-1500000}"
  MODE="full (issue) sizes"
else
  DURATION="${DURATION:-10s}"
  SEARCH_MESSAGES="${SEARCH_MESSAGES:-200000}"
  DELIVER_PRELOAD="${DELIVER_PRELOAD:-200000}"
  MODE="quick pass"
fi
SCENARIOS="${SCENARIOS:-single bare batch deliver rate latency e2e search}"
HERALD_PORT="${HERALD_PORT:-18080}"
SIM_PORT="${SIM_PORT:-18426}"
BARE_PORT="${BARE_PORT:-18090}"
ADMIN_KEY="bench-admin-key-$(date +%s)-0123456789"
API="http://127.0.0.1:${HERALD_PORT}"
SIM="http://127.0.0.1:${SIM_PORT}"
BARE="http://127.0.0.1:${BARE_PORT}"
mkdir -p "$OUT"
rm -f "$OUT"/*.json

if [[ -z "${HERALD_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release -p herald)
  HERALD_BIN="$ROOT/target/release/herald"
fi
BENCH_COMMIT="${BENCH_COMMIT:-$(git -C "$ROOT" describe --always --dirty)}"

SIM_PID="" BARE_PID="" SERVER_PID=""
stop() { # pid
  # Not `kill && wait`: under `set -e` a non-zero `wait` (143 for a process ended by the
  # signal) ended the EXIT trap there, and the simulator outlived the script.
  [[ -n "$1" ]] || return 0
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() { stop "$SERVER_PID"; stop "$BARE_PID"; stop "$SIM_PID"; }
trap cleanup EXIT

wait_for() { # url
  for _ in $(seq 1 400); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "timed out waiting for $1" >&2
  return 1
}

"$HERALD_BIN" sim --listen "127.0.0.1:${SIM_PORT}" >"$OUT/sim.log" 2>&1 &
SIM_PID=$!
"$HERALD_BIN" bench bare-server --listen "127.0.0.1:${BARE_PORT}" >"$OUT/bare-server.log" 2>&1 &
BARE_PID=$!
wait_for "$SIM/sim/stats"

run_scenario() { # name, then extra `herald bench <name>` arguments
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
  echo "== herald bench $name $*"
  # A missed target exits 1; the script goes on to the next scenario.
  "$HERALD_BIN" bench "$name" --url "$API" --admin-key "$ADMIN_KEY" --sim-url "$SIM" \
    --server-pid "$SERVER_PID" --data-dir "$data" --duration "$DURATION" \
    --out "$OUT/$name.json" "$@" 2>&1 | tee "$OUT/$name.txt" || true
  stop "$SERVER_PID"
  SERVER_PID=""
  rm -rf "$data"
}

for scenario in $SCENARIOS; do
  case "$scenario" in
    single) run_scenario single --connections 256 ;;
    bare) run_scenario bare --connections 256 --bare-url "$BARE" ;;
    batch) run_scenario batch --connections 16 --batch-size 1000 ;;
    deliver) run_scenario deliver --preload "$DELIVER_PRELOAD" ;;
    rate) run_scenario rate --limit 1000 ;;
    latency) run_scenario latency --rate 10000 --get-rate 200 ;;
    e2e) run_scenario e2e --rate 5000 ;;
    search) run_scenario search --messages "$SEARCH_MESSAGES" ;;
    *) echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
done

HEADING="Measured $(date -u +%Y-%m-%d) on \`${BENCH_COMMIT}\` with \`scripts/bench-all.sh\` (${MODE}: ${DURATION} per scenario, search over ${SEARCH_MESSAGES} messages, deliver preload ${DELIVER_PRELOAD}; $(nproc) cores, load generator on the same machine)."
shopt -s nullglob
results=("$OUT"/*.json)
if [[ ${#results[@]} -eq 0 ]]; then
  echo "no scenario produced a result" >&2
  exit 1
fi
"$HERALD_BIN" bench table --heading "$HEADING" "${results[@]}" | tee "$OUT/table.md"
if [[ "${WRITE:-1}" != 0 ]]; then
  "$HERALD_BIN" bench table --heading "$HEADING" --into "$ROOT/BENCHMARKS.md" "${results[@]}"
  echo "table written into BENCHMARKS.md"
fi
echo "results in $OUT"
