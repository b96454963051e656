#!/usr/bin/env bash
# Import throughput on the fixture chains: each chain imported RUNS times into a fresh datadir by the release
# binary; prints every run's Mgas/s and blocks/s, then the median. Usage: scripts/bench-import.sh [RUNS] [CHAIN...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
chains=("${@:-hive-sync rpc-compat}")
chains=(${chains[@]})
fixtures=${FIXTURES:-testing/fixtures}
bin=${BIN:-target/release/balnode}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "| chain | blocks | gas | runs | median Mgas/s | median blocks/s | median ms |"
echo "|---|---|---|---|---|---|---|"
for chain in "${chains[@]}"; do
  dir=$fixtures/chains/$chain
  : > "$work/mgas"; : > "$work/bps"; : > "$work/ms"
  for _ in $(seq "$runs"); do
    rm -rf "$work/datadir"
    "$bin" init --chain "$dir/genesis.json" --datadir "$work/datadir" > /dev/null 2>&1
    line=$(RUST_LOG=info "$bin" import --chain "$dir/genesis.json" --datadir "$work/datadir" "$dir/chain.rlp" 2>&1 \
      | grep 'Import finished')
    imported=$(sed -E 's/.*imported=([0-9]+).*/\1/' <<< "$line")
    gas=$(sed -E 's/.* gas=([0-9]+).*/\1/' <<< "$line")
    ms=$(sed -E 's/.*elapsed_ms=([0-9]+).*/\1/' <<< "$line")
    mgas=$(sed -E 's/.*mgas_per_second="?([0-9.]+).*/\1/' <<< "$line")
    echo "$mgas" >> "$work/mgas"; echo "$ms" >> "$work/ms"
    awk -v b="$imported" -v ms="$ms" 'BEGIN { printf "%.1f\n", b * 1000 / ms }' >> "$work/bps"
    echo "  $chain: $imported blocks, $gas gas, $ms ms, $mgas Mgas/s" >&2
  done
  echo "| $chain | $imported | $gas | $runs | $(median < "$work/mgas") | $(median < "$work/bps") | $(median < "$work/ms") |"
done
