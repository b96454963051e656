#!/usr/bin/env bash
# The real-client test: the rpc-compat chain imported into a temp datadir, `balnode node` on a free port, then
# scripts/rpc-client/check.mjs (ethers.js, installed from npm at the version package-lock.json pins) reads it.
# Usage: scripts/rpc-client-test.sh BALNODE CHAIN_DIR
set -euo pipefail
balnode=$1
chain=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
node_pid=
cleanup() {
  if [[ -n $node_pid ]]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$here/rpc-client" && npm ci --no-audit --no-fund --silent)
RUST_LOG=warn "$balnode" init --chain "$chain/genesis.json" --datadir "$tmp/node" >/dev/null
RUST_LOG=warn "$balnode" import --chain "$chain/genesis.json" --datadir "$tmp/node" "$chain/chain.rlp" >/dev/null
RUST_LOG=warn "$balnode" db forkchoice --datadir "$tmp/node" "$chain/headfcu.json"
mkfifo "$tmp/out"
RUST_LOG=warn "$balnode" node --chain "$chain/genesis.json" --datadir "$tmp/node" --http.port 0 --authrpc.port 0 >"$tmp/out" &
node_pid=$!
url=
while read -r line; do
  if [[ $line == "JSON-RPC on http://"* ]]; then
    url=$(echo "$line" | awk '{print $3}')
    break
  fi
done <"$tmp/out"
cat "$tmp/out" >/dev/null &
[[ -n $url ]] || { echo "the node did not print its RPC URL"; exit 1; }
node "$here/rpc-client/check.mjs" "$url"
