// The devnet end to end: solc compiles Token.sol, ethers.js deploys it on `balnode node --dev` and moves tokens
// between dev accounts (each transaction in a block of its own), then checks balances, Transfer events and the
// block access list (EIP-7928) of a transfer's block, and that the pool refuses bad transactions with geth's
// errors without changing state.
// Usage: node e2e.mjs URL
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import solc from "solc";
import {
  AbiCoder, ContractFactory, HDNodeWallet, JsonRpcProvider, Transaction, Wallet, keccak256, parseUnits, toBeHex,
} from "ethers";

const url = process.argv[2];
assert.ok(url, "usage: node e2e.mjs URL");
const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
provider.pollingInterval = 100;
const MNEMONIC = "test test test test test test test test test test test junk";
const wallets = [0, 1, 2, 3].map((i) =>
  HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider));
let checks = 0;
const show = (value) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));
const check = (what, ok, detail = "") => {
  assert.ok(ok, `${what} ${detail}`);
  checks += 1;
  console.log(`ok ${checks} - ${what}`);
};

// Compile.
const source = readFileSync(new URL("./Token.sol", import.meta.url), "utf8");
const output = JSON.parse(solc.compile(JSON.stringify({
  language: "Solidity",
  sources: { "Token.sol": { content: source } },
  settings: { optimizer: { enabled: true, runs: 200 }, outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
})));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
assert.equal(errors.length, 0, JSON.stringify(errors));
const { abi, evm } = output.contracts["Token.sol"].Token;
check("solc compiled the token", evm.bytecode.object.length > 100);

const { chainId } = await provider.getNetwork();
const start = await provider.getBlockNumber();

// Deploy.
const supply = parseUnits("1000000", 18);
const factory = new ContractFactory(abi, evm.bytecode.object, wallets[0]);
const token = await factory.deploy(supply);
await token.waitForDeployment();
const tokenAddress = (await token.getAddress()).toLowerCase();
check("deployed", (await provider.getCode(tokenAddress)).length > 2);
check("total supply", (await token.totalSupply()) === supply);

// Transfers from several accounts, each mined in its own block.
const moves = [[0, 1, 1000n], [0, 2, 2000n], [1, 3, 300n], [2, 3, 500n]];
const receipts = [];
for (const [from, to, amount] of moves) {
  const tx = await token.connect(wallets[from]).transfer(wallets[to].address, amount);
  const receipt = await tx.wait();
  check(`transfer ${from} -> ${to} succeeded`, receipt.status === 1);
  receipts.push(receipt);
}
const blocks = new Set(receipts.map((r) => r.blockNumber));
check("one block per transaction", blocks.size === moves.length);

const expected = [supply - 3000n, 700n, 1500n, 800n];
for (const [i, amount] of expected.entries()) {
  check(`balance of account ${i}`, (await token.balanceOf(wallets[i].address)) === amount);
}

// Transfer events: the mint and the four moves, in order.
const events = await token.queryFilter(token.filters.Transfer(), start, "latest");
check("five Transfer events", events.length === 5, `(got ${events.length})`);
check("the mint", events[0].args.from === "0x0000000000000000000000000000000000000000" && events[0].args.value === supply);
for (const [i, [from, to, amount]] of moves.entries()) {
  const { args } = events[i + 1];
  check(`event ${i + 1}`, args.from === wallets[from].address && args.to === wallets[to].address && args.value === amount);
}
const fromThree = await token.queryFilter(token.filters.Transfer(null, wallets[3].address), start, "latest");
check("Transfer events filtered by recipient", fromThree.length === 2);

// The access list of the block holding the move 1 -> 3: the token's two balance slots with their new values,
// the sender's nonce, at index 1 (the block's only transaction).
const receipt = receipts[2];
const block = await provider.send("eth_getBlockByNumber", [toBeHex(receipt.blockNumber), false]);
check("the block has one transaction", block.transactions.length === 1);
const bal = await provider.send("eth_getBlockAccessList", [toBeHex(receipt.blockNumber)]);
check("the block has an access list", Array.isArray(bal) && bal.length > 0);
const rawBal = await provider.send("debug_getRawBlockAccessList", [toBeHex(receipt.blockNumber)]);
check("the header commits to it", block.blockAccessListHash === keccak256(rawBal));
const entry = (address) => bal.find((account) => account.address.toLowerCase() === address.toLowerCase());
const slotOf = (owner) => BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(["address", "uint256"], [owner, 3])));
const tokenChanges = entry(tokenAddress);
check("the token is in the list", tokenChanges !== undefined);
const written = new Map(tokenChanges.storageChanges.map((slot) => [
  BigInt(slot.key ?? slot.slot),
  (slot.changes ?? slot.slotChanges).map((c) => [Number(c.index ?? c.blockAccessIndex), BigInt(c.value ?? c.newValue ?? c.postValue)]),
]));
check("the token's writes are the two balances", written.size === 2, show(tokenChanges));
check("the sender's balance slot", show(written.get(slotOf(wallets[1].address))) === show([[1, 700n]]), show(tokenChanges));
check("the recipient's balance slot", show(written.get(slotOf(wallets[3].address))) === show([[1, 300n]]), show(tokenChanges));
const sender = entry(wallets[1].address);
const nonces = sender.nonceChanges.map((c) => [Number(c.index ?? c.blockAccessIndex), BigInt(c.value ?? c.newNonce ?? c.postNonce)]);
check("the sender's nonce change", show(nonces) === show([[1, 1n]]), show(sender));
check("the sender paid gas", sender.balanceChanges.length === 1);

// Bad transactions: each refused with geth's error, and nothing changes.
const rpcError = async (raw) => {
  try {
    await provider.send("eth_sendRawTransaction", [raw]);
    return null;
  } catch (error) {
    return error.error?.message ?? error.info?.error?.message ?? error.message;
  }
};
const feeData = await provider.getFeeData();
const base = {
  type: 2, chainId, to: wallets[0].address, value: 1n, gasLimit: 300000n,
  maxFeePerGas: feeData.maxFeePerGas, maxPriorityFeePerGas: feeData.maxPriorityFeePerGas,
};
const raw = (wallet, fields) => wallet.signTransaction({ ...base, ...fields });
const before = await Promise.all(wallets.map((w) => provider.getTransactionCount(w.address)));
const head = await provider.getBlockNumber();

let message = await rpcError(await raw(wallets[1], { nonce: 0 }));
check("nonce too low", /nonce too low/.test(message ?? ""), message);
message = await rpcError(await raw(wallets[1], { nonce: before[1], chainId: 1n }));
check("wrong chain id", /chain id/i.test(message ?? ""), message);
const signed = Transaction.from(await raw(wallets[1], { nonce: before[1] }));
const tampered = Transaction.from({ ...signed.toJSON(), signature: { r: signed.signature.r, s: toBeHex(BigInt(signed.signature.s) ^ 1n, 32), v: signed.signature.v } });
message = await rpcError(tampered.serialized);
check("a wrong signature is refused", message !== null, message);
message = await rpcError(await raw(wallets[1], { nonce: before[1], data: "0x" + "00".repeat(200 * 1024), gasLimit: 16000000n }));
check("oversized data", /oversized data/.test(message ?? ""), message);
message = await rpcError(await raw(wallets[1], { nonce: before[1], value: parseUnits("1000000", 18) }));
check("insufficient funds", /insufficient funds/.test(message ?? ""), message);
message = await rpcError(await raw(wallets[1], { nonce: before[1], maxPriorityFeePerGas: 0n }));
check("transaction underpriced (no tip)", /transaction underpriced/.test(message ?? ""), message);
message = await rpcError(await raw(wallets[1], { nonce: before[1], gasLimit: 20000n }));
check("intrinsic gas too low", /intrinsic gas too low/.test(message ?? ""), message);

// A nonce gap waits in the queue; replacing it needs a 10% fee bump.
const gap = before[3] + 1;
const queued = await raw(wallets[3], { nonce: gap });
check("a transaction after a nonce gap is accepted", (await rpcError(queued)) === null);
const status = await provider.send("txpool_status", []);
check("it is queued", BigInt(status.queued) === 1n && BigInt(status.pending) === 0n, JSON.stringify(status));
// Raised by `percent` rounded up, and by at least 1 wei (geth wants both strictly higher).
const raise = (value, percent) => value + [(value * percent + 99n) / 100n, 1n].reduce((a, b) => (a > b ? a : b));
const bump = (percent) => ({
  nonce: gap,
  maxFeePerGas: raise(base.maxFeePerGas, percent),
  maxPriorityFeePerGas: raise(base.maxPriorityFeePerGas, percent),
});
message = await rpcError(await raw(wallets[3], bump(5n)));
check("replacement transaction underpriced", /replacement transaction underpriced/.test(message ?? ""), message);
message = await rpcError(await raw(wallets[3], bump(10n)));
check("a 10% bump replaces it", message === null, message);
const content = await provider.send("txpool_content", []);
const queuedOf3 = Object.entries(content.queued).find(([a]) => a.toLowerCase() === wallets[3].address.toLowerCase());
check("txpool_content shows the replacement", queuedOf3 && BigInt(queuedOf3[1][String(gap)].maxFeePerGas) === bump(10n).maxFeePerGas);

const after = await Promise.all(wallets.map((w) => provider.getTransactionCount(w.address)));
check("no refused transaction changed a nonce", JSON.stringify(after) === JSON.stringify(before));
check("no block was made for them", (await provider.getBlockNumber()) === head);
check("pending nonce counts the pool", (await provider.getTransactionCount(wallets[3].address, "pending")) === before[3]);

// Filling the gap mines both.
const fill = await wallets[3].sendTransaction({ ...base, nonce: before[3] });
await fill.wait();
for (let i = 0; i < 50 && (await provider.getTransactionCount(wallets[3].address)) < gap + 1; i += 1) {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
check("filling the gap mines the queued transaction too", (await provider.getTransactionCount(wallets[3].address)) === gap + 1);

console.log(`all ${checks} checks passed`);
