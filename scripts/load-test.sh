#!/usr/bin/env bash
# Load test of `backstop serve` on loopback: builds the release binary and the load generator
# (crates/cli/examples/load.rs), then for each setting starts a server on a fresh journal, adds an
# admin key, runs the generator and stops the server. Prints one summary line per setting.
#
#   scripts/load-test.sh                                  # SQLite journal in a temporary directory
#   scripts/load-test.sh --db postgres://backstop:backstop@127.0.0.1:5432/backstop_test
#                                                         # a fresh database per setting on that server
#   scripts/load-test.sh --seconds 20 --settings "1x1000 2x1000"   # CONNECTIONSxBATCH
#
# Options: --db sqlite|postgres://… (default sqlite), --seconds N (default 10) per setting,
# --settings "CxB …" (default "1x100 2x100 4x100 1x1000 2x1000 4x1000"), --accounts N (default
# 1000), --snapshot-every N (default: the server's). Uses CARGO_TARGET_DIR if set.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DB=sqlite
DURATION=10
SETTINGS="1x100 2x100 4x100 1x1000 2x1000 4x1000"
ACCOUNTS=1000
SNAPSHOT_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --db) DB=$2; shift 2 ;;
    --seconds) DURATION=$2; shift 2 ;;
    --settings) SETTINGS=$2; shift 2 ;;
    --accounts) ACCOUNTS=$2; shift 2 ;;
    --snapshot-every) SNAPSHOT_ARGS=(--snapshot-every "$2"); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cd "$ROOT"
cargo build --release --quiet -p backstop-cli --bin backstop --example load
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/backstop
LOAD=$TARGET/release/examples/load
WORK=$(mktemp -d "${TMPDIR:-/tmp}/backstop-load.XXXXXX")
SERVER_PID=""
PG_DB=""

# The URL with its database name replaced (query string kept).
with_database() {
  local url=$1 name=$2 base query=""
  base=${url%%\?*}
  if [ "$base" != "$url" ]; then query="?${url#*\?}"; fi
  local scheme=${base%%://*} rest=${base#*://}
  echo "${scheme}://${rest%%/*}/${name}${query}"
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

drop_pg_db() {
  if [ -n "$PG_DB" ]; then
    psql "$DB" -qAt -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    PG_DB=""
  fi
}

cleanup() {
  stop_server
  drop_pg_db
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "journal: $([ "$DB" = sqlite ] && echo "SQLite file under $WORK" || echo "PostgreSQL (fresh database per setting)")"
SUMMARIES=()
for setting in $SETTINGS; do
  connections=${setting%x*}
  batch=${setting#*x}
  if [ "$DB" = sqlite ]; then
    location=$WORK/journal-$setting.db
  else
    PG_DB="backstop_load_$$_${connections}x${batch}"
    psql "$DB" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $PG_DB" >/dev/null
    location=$(with_database "$DB" "$PG_DB")
  fi
  key=$("$BIN" keys add --db "$location" --role admin --label load-test 2>>"$WORK/keys.err" | grep -o 'bsk_[0-9a-f]*' | head -1)
  out=$WORK/serve-$setting.out
  "$BIN" serve --db "$location" --config "$ROOT/examples/venue.toml" --listen 127.0.0.1:0 \
    "${SNAPSHOT_ARGS[@]}" >"$out" 2>"$WORK/serve-$setting.err" &
  SERVER_PID=$!
  url=""
  for _ in $(seq 1 600); do
    url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$out" | head -1)
    if [ -n "$url" ]; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/serve-$setting.err" >&2; exit 1; fi
    sleep 0.1
  done
  if [ -z "$url" ]; then echo "the server did not start" >&2; cat "$WORK/serve-$setting.err" >&2; exit 1; fi
  echo
  echo "== $connections connection(s), batches of $batch, $DURATION s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  "$LOAD" --url "$url" --key "$key" --connections "$connections" --batch "$batch" \
    --seconds "$DURATION" --accounts "$ACCOUNTS" | tee "$WORK/load-$setting.out"
  SUMMARIES+=("$(grep '^summary ' "$WORK/load-$setting.out") loadavg=$(cut -d' ' -f1 /proc/loadavg)")
  stop_server
  drop_pg_db
done
echo
echo "== summaries"
printf '%s\n' "${SUMMARIES[@]}"
