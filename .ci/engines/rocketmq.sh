# RocketMQ engine for herald-queue-rocketmq: the Rust name server and broker (remoting
# protocol), bound to 127.0.0.1, with small store files. Sourced by .ci/run inside
# start_engines, where `ensure <name> <port> <command...>` starts an engine unless its port
# already answers. Installs both binaries from crates.io when missing (≈10 min each on 2
# cores; they share one target directory).

HERALD_ROCKETMQ_NAMESRV_PORT="${HERALD_ROCKETMQ_NAMESRV_PORT:-9876}"
HERALD_ROCKETMQ_BROKER_PORT="${HERALD_ROCKETMQ_BROKER_PORT:-10911}"
export PATH="$HOME/.cargo/bin:$PATH"
for rocketmq_crate in rocketmq-namesrv rocketmq-broker; do
  if ! command -v "$rocketmq_crate-rust" >/dev/null 2>&1; then
    echo "rocketmq: $rocketmq_crate-rust not found, installing $rocketmq_crate 1.0.0"
    CARGO_TARGET_DIR=/work/install-target nice -n 10 cargo install --locked "$rocketmq_crate@1.0.0"
  fi
done

# One home for both processes: configuration, metadata and logs. The message store lives on
# its own file system (RAM-backed /dev/shm when there is one), because the broker refuses
# every send with "Broker operation failed" (code 14, service not available) once its store's
# file system is more than 90 % used, (total - available) / total: the limit is clamped to
# 90 % whatever diskSpaceWarningLevelRatio says (rocketmq-store 1.0, read in its source).
# On the shared CI disk, 252 GB with often well under 80 GB available, a test build can pass
# that line; one CI run failed every RocketMQ send that way.
export ROCKETMQ_HOME="${ROCKETMQ_HOME:-/tmp/herald-rocketmq}"
if [ -z "${ROCKETMQ_STORE:-}" ]; then
  ROCKETMQ_STORE="$ROCKETMQ_HOME/store"
  [ -d /dev/shm ] && [ -w /dev/shm ] && ROCKETMQ_STORE=/dev/shm/herald-rocketmq-store
fi
export ROCKETMQ_STORE

# A broker left running by an earlier session keeps its old configuration and store: CI
# always starts both processes afresh (a throwaway test broker; nothing in it is kept).
# The old processes must be gone, not only their ports closed: a broker still shutting down
# writes into the store and the log the new one is given.
if [ "${CI:-}" = "true" ]; then
  for rocketmq_server in rocketmq-broker-rust rocketmq-namesrv-rust; do
    pkill -CONT -f "$rocketmq_server" || true
    pkill -TERM -f "$rocketmq_server" || true
    for _ in $(seq 1 50); do pgrep -f "$rocketmq_server" >/dev/null || break; sleep 0.2; done
    pkill -KILL -f "$rocketmq_server" || true
    for _ in $(seq 1 50); do pgrep -f "$rocketmq_server" >/dev/null || break; sleep 0.2; done
  done
  rm -rf "$ROCKETMQ_STORE" "$ROCKETMQ_HOME/store" "$ROCKETMQ_HOME"/*.log
fi
mkdir -p "$ROCKETMQ_HOME/conf" "$ROCKETMQ_STORE"
df -h "$ROCKETMQ_STORE" || true
# The broker allocates its store files up front: commit log files are lowered from 1 GiB to
# 64 MiB and the message index from 400 MiB to 4 MiB (the timer log keeps its 100 MiB, as
# this broker refuses other sizes for it). Delay levels are the broker's default, which the
# queue relies on (herald_queue_rocketmq::DELAY_LEVELS_SETTING).
cat >"$ROCKETMQ_HOME/conf/broker.toml" <<TOML
[broker]
namesrvAddr = "127.0.0.1:$HERALD_ROCKETMQ_NAMESRV_PORT"
brokerIp1 = "127.0.0.1"
listenPort = $HERALD_ROCKETMQ_BROKER_PORT
storePathRootDir = "$ROCKETMQ_STORE"

[broker.brokerServerConfig]
bindAddress = "127.0.0.1"

[broker.brokerIdentity]
brokerName = "herald-broker"
brokerClusterName = "HeraldCluster"
brokerId = 0

[store]
storeType = "LocalFile"
brokerRole = "ASYNC_MASTER"
storePathRootDir = "$ROCKETMQ_STORE"
haListenAddress = "127.0.0.1"
haListenPort = $((HERALD_ROCKETMQ_BROKER_PORT + 1))
mappedFileSizeCommitLog = 67108864
mappedFileSizeConsumeQueue = 120000
maxHashSlotNum = 50000
maxIndexNum = 200000
messageDelayLevel = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
TOML

export ROCKETMQ_SECURITY_PROFILE=development-insecure-loopback
# `{ … & }` backgrounds the server alone, with every stream redirected: a backgrounded
# `cd … && server` list would leave a shell holding this script's stdout open.
ensure rocketmq-namesrv "$HERALD_ROCKETMQ_NAMESRV_PORT" bash -c "cd '$ROCKETMQ_HOME' && { nohup \
  rocketmq-namesrv-rust --rocketmqHome '$ROCKETMQ_HOME' --listenPort $HERALD_ROCKETMQ_NAMESRV_PORT \
  --bindAddress 127.0.0.1 >'$ROCKETMQ_HOME/namesrv.log' 2>&1 </dev/null & }"
ensure rocketmq-broker "$HERALD_ROCKETMQ_BROKER_PORT" bash -c "cd '$ROCKETMQ_HOME' && { nohup \
  rocketmq-broker-rust -c '$ROCKETMQ_HOME/conf/broker.toml' \
  -n 127.0.0.1:$HERALD_ROCKETMQ_NAMESRV_PORT >'$ROCKETMQ_HOME/broker.log' 2>&1 </dev/null & }"
export HERALD_TEST_ROCKETMQ_URL="${HERALD_TEST_ROCKETMQ_URL:-127.0.0.1:$HERALD_ROCKETMQ_NAMESRV_PORT}"
