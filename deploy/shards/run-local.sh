#!/usr/bin/env bash
# Runs one simulation as N shard processes on this machine, then merges them.
# Usage: deploy/shards/run-local.sh SCENARIO PATHS SHARDS OUT [extra simulate flags…]
# Same result, byte for byte (summary.json, charts/), as:
#   backstop simulate SCENARIO --paths PATHS --out OUT [extra flags…]
set -euo pipefail
scenario=$1 paths=$2 shards=$3 out=$4
shift 4
backstop=${BACKSTOP:-backstop}
work=$(mktemp -d)
for k in $(seq 1 "$shards"); do
  "$backstop" simulate "$scenario" --paths "$paths" --shard "$k/$shards" --out "$work/shard-$k" "$@" &
done
wait   # a failed shard fails the merge below (its partial.json is missing)
"$backstop" merge "$work"/shard-* --out "$out"
rm -rf "$work"
