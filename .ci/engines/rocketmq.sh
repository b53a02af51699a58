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

# One home for both processes: configuration, metadata, the message store and logs.
export ROCKETMQ_HOME="${ROCKETMQ_HOME:-/tmp/herald-rocketmq}"
mkdir -p "$ROCKETMQ_HOME/conf" "$ROCKETMQ_HOME/store"
# The broker allocates its store files up front: commit log files are lowered from 1 GiB to
# 64 MiB and the message index from 400 MiB to 4 MiB (the timer log keeps its 100 MiB, as
# this broker refuses other sizes for it). Delay levels are the broker's default, which the
# queue relies on (herald_queue_rocketmq::DELAY_LEVELS_SETTING).
cat >"$ROCKETMQ_HOME/conf/broker.toml" <<TOML
[broker]
namesrvAddr = "127.0.0.1:$HERALD_ROCKETMQ_NAMESRV_PORT"
brokerIp1 = "127.0.0.1"
listenPort = $HERALD_ROCKETMQ_BROKER_PORT
storePathRootDir = "$ROCKETMQ_HOME/store"

[broker.brokerServerConfig]
bindAddress = "127.0.0.1"

[broker.brokerIdentity]
brokerName = "herald-broker"
brokerClusterName = "HeraldCluster"
brokerId = 0

[store]
storeType = "LocalFile"
brokerRole = "ASYNC_MASTER"
storePathRootDir = "$ROCKETMQ_HOME/store"
haListenAddress = "127.0.0.1"
haListenPort = $((HERALD_ROCKETMQ_BROKER_PORT + 1))
mappedFileSizeCommitLog = 67108864
mappedFileSizeConsumeQueue = 120000
maxHashSlotNum = 50000
maxIndexNum = 200000
# The broker samples its file system's used share, (total - available) / total, every few
# seconds and refuses every send once it passes diskSpaceWarningLevelRatio (90 % by default);
# a client then only sees "Broker operation failed". On a shared CI disk, with the test build
# growing the target directory after the broker started, that share can pass 90 %: one CI run
# failed every RocketMQ send that way (cause not confirmed: the broker's code was not shown
# then; the client's errors now carry it). A throwaway test broker tolerates a fuller disk.
diskMaxUsedSpaceRatio = 97
diskSpaceCleanForciblyRatio = 98
diskSpaceWarningLevelRatio = 99
messageDelayLevel = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
TOML

export ROCKETMQ_SECURITY_PROFILE=development-insecure-loopback
ensure rocketmq-namesrv "$HERALD_ROCKETMQ_NAMESRV_PORT" bash -c "cd '$ROCKETMQ_HOME' && nohup \
  rocketmq-namesrv-rust --rocketmqHome '$ROCKETMQ_HOME' --listenPort $HERALD_ROCKETMQ_NAMESRV_PORT \
  --bindAddress 127.0.0.1 >'$ROCKETMQ_HOME/namesrv.log' 2>&1 &"
ensure rocketmq-broker "$HERALD_ROCKETMQ_BROKER_PORT" bash -c "cd '$ROCKETMQ_HOME' && nohup \
  rocketmq-broker-rust -c '$ROCKETMQ_HOME/conf/broker.toml' \
  -n 127.0.0.1:$HERALD_ROCKETMQ_NAMESRV_PORT >'$ROCKETMQ_HOME/broker.log' 2>&1 &"
export HERALD_TEST_ROCKETMQ_URL="${HERALD_TEST_ROCKETMQ_URL:-127.0.0.1:$HERALD_ROCKETMQ_NAMESRV_PORT}"
