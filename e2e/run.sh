#!/usr/bin/env bash
# Browser smoke test of the dashboard: a real `backstop serve` on loopback, fed e2e/setup.json,
# driven through Debian's chromium by playwright-core. .ci/run runs it (through .ci/e2e).
# Needs: apt-get install chromium; (cd e2e && npm ci). Screenshots go to target/e2e/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build -q -p backstop-cli
bin="${CARGO_TARGET_DIR:-$root/target}/debug/backstop"
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
# The example venue with a 1,500-USDC insurance fund in front of the USDC market.
{ cat examples/venue.toml; printf '\n[[fund]]\nname = "insurance"\nasset = "USDC"\nmarkets = ["USDC"]\n\n[[waterfall]]\nmarket = "USDC"\nlayers = ["fund:insurance", "socialize"]\n'; } > "$work/venue.toml"
admin="$("$bin" keys add --db "$work/j.db" --role admin --label e2e 2>/dev/null)"
user="$("$bin" keys add --db "$work/j.db" --role user --account 2 --label e2e-user 2>/dev/null)"
"$bin" serve --db "$work/j.db" --config "$work/venue.toml" --listen 127.0.0.1:0 > "$work/serve.out" 2> "$work/serve.err" &
server=$!
for _ in $(seq 50); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$work/serve.out")"
curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d @e2e/setup.json "$url/v1/batches" > /dev/null
summary=""
if [ -n "${SUMMARY_JSON:-}" ]; then summary="$SUMMARY_JSON"; fi
BACKSTOP_URL="$url" ADMIN_KEY="$admin" USER_KEY="$user" SUMMARY_JSON="$summary" \
  OUT_DIR="$root/target/e2e" node e2e/smoke.mjs
