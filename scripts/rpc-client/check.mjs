// Reads the imported rpc-compat chain through ethers.js (a real JSON-RPC client) and checks blocks, balances,
// receipts, logs, code and a proof against the chain's known values (those of hive's rpc-compat cases).
// Usage: node check.mjs URL
import assert from "node:assert/strict";
import { JsonRpcProvider, keccak256, toBeHex, zeroPadValue } from "ethers";

const url = process.argv[2];
assert.ok(url, "usage: node check.mjs URL");
const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });

const HEAD_HASH = "0xd226371d0b1551adb03fb52b71f08e3e11247fe9b1af994768af8cdaa8e7dcd7";
const CONTRACT = "0x7dcd17433742f4c0ca53122ab541d0ba67fc27df";
const SENDER = "0x7435ed30a8b4aeb0877cef0c6e8cffe834eb865f";
let checks = 0;
const check = (what, ok) => {
  assert.ok(ok, what);
  checks += 1;
};

const network = await provider.getNetwork();
check("chain id", network.chainId === 3503995874084926n);
check("head number", (await provider.getBlockNumber()) === 54);

const head = await provider.getBlock("latest");
check("head hash", head.hash === HEAD_HASH);
check("finalized is the head (headfcu.json)", (await provider.getBlock("finalized")).hash === HEAD_HASH);

const cancun = await provider.getBlock(42, true);
check("block 42 hash", cancun.hash === "0x9e5e1e79c57f257def6a0e882d10863e2a98b034e6e0fdaccd7ff7b31312105d");
check("block 42 has 4 transactions", cancun.prefetchedTransactions.length === 4);
const blobTx = cancun.prefetchedTransactions[0];
check("blob transaction", blobTx.hash === "0x4bb6fa064c302d27ea9ac821e061bcc336b8fa40de77f01e116c6461d47e7ac1" && blobTx.type === 3);
check("blob transaction sender", blobTx.from.toLowerCase() === SENDER);

check("balance at the head", (await provider.getBalance(CONTRACT)) === 0x76n);
check(
  "balance at an earlier block, by hash",
  (await provider.getBalance(CONTRACT, "0xa38f2a6f7d276298d8e7a9bfa28625e4dc8948021f5a7369d0a04571879e98d2")) === 0x56n,
);
check("code", (await provider.getCode(CONTRACT)) === "0x3680600080376000206000548082558060010160005560005263656d697460206000a2");
check("storage", BigInt(await provider.getStorage(CONTRACT, 0)) === 0x38n);

const receipt = await provider.getTransactionReceipt("0x3fbac8b19b59077cd29bbacc3815d73577b45a4d976cae80b04c98c793684c07");
check("receipt block", receipt.blockNumber === 3);
check("receipt gas", receipt.gasUsed === 21000n);
check("a pre-Byzantium receipt carries a state root, not a status", receipt.status == null && receipt.root === "0x09ebe9c3ee77cd8d23faf37c62cf702b3c00e71dcadbef4d21355f35921b49ca");
const accessList = await provider.getTransactionReceipt("0x695ad02907c9e13ab7c69963f723fa46ac13cd5e2314f61eab2cb2f07b946faa");
check("EIP-2930 receipt", accessList.blockNumber === 24 && accessList.gasUsed === 0xca9cn && accessList.status === 1);
check("receipt sender", receipt.from.toLowerCase() === SENDER);
const created = await provider.getTransactionReceipt("0xc1d605c6612a5fe84dc95810030bfe5b1d327652b381bc695e28f50d13b2b09e");
check("contract address", created.contractAddress.toLowerCase() === "0x9344b07175800259691961298ca11c824e65032d");

const logs = await provider.getLogs({ address: CONTRACT, fromBlock: 1, toBlock: 4 });
check("logs of the contract in blocks 1..4", logs.length === 2);
check("first log", logs[0].transactionHash === "0x5bc704d4eb4ce7fe319705d2f888516961426a177f2799c9f934b5df7466dd33" && logs[0].index === 10);
check("last log", logs[1].blockNumber === 4 && logs[1].index === 0);

const proof = await provider.send("eth_getProof", [CONTRACT, [zeroPadValue(toBeHex(0), 32)], "latest"]);
check("account proof starts at the head's state root", keccak256(proof.accountProof[0]) === head.stateRoot);
check("proof balance", BigInt(proof.balance) === 0x76n);
check("storage proof value", BigInt(proof.storageProof[0].value) === 0x38n);

const call = await provider.call({ to: "0x9344b07175800259691961298ca11c824e65032d" });
check("eth_call sees the head's number", BigInt(call.slice(0, 66)) === 54n);

console.log(`ethers.js ${(await import("ethers")).version}: ${checks} checks passed against ${url}`);
provider.destroy();
