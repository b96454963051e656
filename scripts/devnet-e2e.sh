#!/usr/bin/env bash
# The devnet end to end: `balnode node --dev` on a fresh datadir and free ports (each transaction mined in a
# block of its own), then scripts/devnet-e2e/e2e.mjs (ethers.js and solc, installed from npm at the versions
# package-lock.json pins) compiles and deploys an ERC-20 and checks transfers, events, access lists and the
# pool's errors. Then the node is stopped with SIGTERM, restarted on the same datadir, and must still have the
# chain. Usage: scripts/devnet-e2e.sh BALNODE
set -euo pipefail
balnode=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
node_pid=
cleanup() {
  if [[ -n $node_pid ]]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$here/devnet-e2e" && npm ci --no-audit --no-fund --silent)

# Starts the dev node on $tmp/node; sets node_pid and url.
start_node() {
  rm -f "$tmp/out" && mkfifo "$tmp/out"
  RUST_LOG=${RUST_LOG:-warn} "$balnode" node --dev --datadir "$tmp/node" --http.port 0 --authrpc.port 0 "$@" >"$tmp/out" 2>"$tmp/node.log" &
  node_pid=$!
  url=
  while read -r line; do
    if [[ $line == "JSON-RPC on http://"* ]]; then
      url=$(echo "$line" | awk '{print $3}')
      break
    fi
  done <"$tmp/out"
  cat "$tmp/out" >/dev/null &
  [[ -n $url ]] || { echo "the node did not print its RPC URL"; cat "$tmp/node.log"; exit 1; }
}
rpc() {
  curl -sf -X POST -H 'content-type: application/json' \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$url"
}

start_node
node "$here/devnet-e2e/e2e.mjs" "$url" || { tail -20 "$tmp/node.log"; exit 1; }
head=$(rpc eth_getBlockByNumber '["latest",false]' | sed 's/.*"hash":"\(0x[0-9a-f]*\)".*/\1/')
kill -TERM "$node_pid"
wait "$node_pid" || { echo "the node did not exit cleanly on SIGTERM"; tail -20 "$tmp/node.log"; exit 1; }
node_pid=
start_node
again=$(rpc eth_getBlockByNumber '["latest",false]' | sed 's/.*"hash":"\(0x[0-9a-f]*\)".*/\1/')
[[ $head == "$again" ]] || { echo "after a restart the head is $again, not $head"; exit 1; }
echo "restart: the head $head survived"
