# Kafka protocol engine for herald-queue-kafka: tansu (a Kafka-compatible broker in Rust),
# bound to 127.0.0.1, in-memory storage (a fresh broker per start). Its SQLite engine
# panicked ("more or less than one row", reading a partition's watermark) during the queue's
# tests here and then refused every request;
# the in-memory engine's quirks are handled by the queue (`single_record_batches`, see
# docs/decisions/0010-kafka-queue.md). Sourced by .ci/run inside start_engines, where
# `ensure <name> <port> <command...>` starts an engine unless its port already answers.
# Installs tansu from crates.io when it is missing (about 20 minutes on 2 cores).

HERALD_KAFKA_PORT="${HERALD_KAFKA_PORT:-9092}"
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tansu >/dev/null 2>&1; then
  echo "kafka: tansu not found, installing tansu 0.6.0"
  tansu_target="$(mktemp -d)"
  CARGO_TARGET_DIR="$tansu_target" nice -n 10 cargo install --locked tansu@0.6.0 \
    --features dynostore,libsql
  rm -rf "$tansu_target"
fi
ensure kafka "$HERALD_KAFKA_PORT" bash -c "nohup tansu broker \
  --listener-url tcp://127.0.0.1:$HERALD_KAFKA_PORT \
  --advertised-listener-url tcp://127.0.0.1:$HERALD_KAFKA_PORT \
  --storage-engine memory://tansu/ >\"${TMPDIR:-/tmp}/herald-tansu.log\" 2>&1 &"
export HERALD_TEST_KAFKA_URL="${HERALD_TEST_KAFKA_URL:-127.0.0.1:$HERALD_KAFKA_PORT}"
