#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/<target>, gitignored) from the unpacked fixtures:
#   block_file  one block record per file from chains/*/chain.rlp and the Amsterdam blockchain tests (with BALs)
#   bal         the access list (5th element) of each Amsterdam test block
#   genesis     chains/*/genesis.json
#   rpc_params  "method\nparams" of every rpc-compat request
# With --committed it writes the small set kept in git, fuzz/seeds/<target> (about 100 KiB): a dozen records of
# the repository's rpc-compat chain, its genesis files, a dozen Amsterdam tests' blocks and lists, the rpc-compat
# requests under 2 KiB. Usage: scripts/fuzz-seeds.sh FIXTURES_DIR [--committed]
set -euo pipefail
fixtures=${1:?usage: $0 FIXTURES_DIR [--committed]}
cd "$(dirname "$0")/.."
exec python3 - "$fixtures" "${2:-}" <<'PY'
import glob, hashlib, json, os, sys

fixtures, mode = sys.argv[1], sys.argv[2]
committed = mode == "--committed"
out_root = "fuzz/seeds" if committed else "fuzz/corpus"
counts = {}

def seed(target, data):
    os.makedirs(f"{out_root}/{target}", exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()
    with open(f"{out_root}/{target}/{name}", "wb") as f:
        f.write(data)
    counts[target] = counts.get(target, 0) + 1

def item(data, pos):
    """(start of payload, payload length, end) of the RLP item at pos."""
    b = data[pos]
    if b < 0x80:
        return pos, 1, pos + 1
    if b < 0xb8:
        return pos + 1, b - 0x80, pos + 1 + b - 0x80
    if b < 0xc0:
        n = b - 0xb7
        length = int.from_bytes(data[pos + 1:pos + 1 + n], "big")
        return pos + 1 + n, length, pos + 1 + n + length
    if b < 0xf8:
        return pos + 1, b - 0xc0, pos + 1 + b - 0xc0
    n = b - 0xf7
    length = int.from_bytes(data[pos + 1:pos + 1 + n], "big")
    return pos + 1 + n, length, pos + 1 + n + length

def records(data, limit):
    pos = 0
    while pos < len(data) and limit > 0:
        _, _, end = item(data, pos)
        yield data[pos:end]
        pos, limit = end, limit - 1

def elements(record):
    start, length, _ = item(record, 0)
    pos, out = start, []
    while pos < start + length:
        _, _, end = item(record, pos)
        out.append(record[pos:end])
        pos = end
    return out

def rlp(value):
    """RLP of bytes, a non-negative int (minimal big-endian) or a list."""
    if isinstance(value, list):
        payload = b"".join(rlp(v) for v in value)
        return length_prefix(len(payload), 0xc0) + payload
    if isinstance(value, int):
        value = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if len(value) == 1 and value[0] < 0x80:
        return value
    return length_prefix(len(value), 0x80) + value

def length_prefix(length, offset):
    if length < 56:
        return bytes([offset + length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(encoded)]) + encoded

def bal_rlp(accounts):
    """The EIP-7928 RLP of a blockchain test's `blockAccessList` JSON."""
    num = lambda text: int(text, 16)
    raw = lambda text: bytes.fromhex(text[2:])
    change = lambda c, key, conv: [num(c["blockAccessIndex"]), conv(c[key])]
    return rlp([
        [
            raw(a["address"]),
            [[num(s["slot"]), [change(c, "postValue", num) for c in s["slotChanges"]]] for s in a["storageChanges"]],
            [num(slot) for slot in a["storageReads"]],
            [change(c, "postBalance", num) for c in a["balanceChanges"]],
            [change(c, "postNonce", num) for c in a["nonceChanges"]],
            [change(c, "newCode", raw) for c in a["codeChanges"]],
        ]
        for a in accounts
    ])

if committed:
    chains = ["crates/import/testdata/chains/rpc-compat/chain.rlp"]
    genesis = glob.glob("crates/import/testdata/chains/*/genesis.json") + glob.glob("crates/chainspec/testdata/**/*.json", recursive=True)
    per_chain = 12
else:
    chains = sorted(glob.glob(f"{fixtures}/chains/*/chain.rlp"))
    genesis = sorted(glob.glob(f"{fixtures}/chains/*/genesis.json"))
    per_chain = 200

for path in chains:
    data = open(path, "rb").read()
    for record in records(data, per_chain):
        seed("block_file", record)
for path in genesis:
    text = open(path).read()
    if len(text) < 64 * 1024:
        seed("genesis", text)

tests = sorted(glob.glob(f"{fixtures}/blockchain-tests/eest-bal-*/**/eip7928*/**/*.json", recursive=True))
for path in tests[: 12 if committed else len(tests)]:
    for test in json.load(open(path)).values():
        for block in test.get("blocks", [])[:2]:
            block_rlp = block.get("rlp")
            if not block_rlp:
                continue
            record = bytes.fromhex(block_rlp[2:])
            if not committed or len(record) < 4096:
                seed("block_file", record)
            if "blockAccessList" in block:
                bal = bal_rlp(block["blockAccessList"])
                if not committed or len(bal) < 4096:
                    seed("bal", bal)
                # The block with its list: a 5-element record, as `balnode bal generate` writes them.
                parts = elements(record)
                if len(parts) == 4:
                    body = b"".join(parts) + bal
                    seed("block_file", length_prefix(len(body), 0xc0) + body)
        if committed:
            break

cases = sorted(glob.glob(f"{fixtures}/rpc-compat/*/*.io"))
for path in cases:
    for line in open(path):
        if line.startswith(">> "):
            request = json.loads(line[3:])
            if isinstance(request, dict) and "method" in request:
                params = json.dumps(request.get("params", []), separators=(",", ":"))
                if not committed or len(params) < 2048:
                    seed("rpc_params", f"{request['method']}\n{params}")

for target, count in sorted(counts.items()):
    print(f"{out_root}/{target}: {count} seeds")
PY
