#!/usr/bin/env node
// Writes contracts/test/fixtures/interop-viem.json: receipts signed and hashed by viem
// (signTypedData, hashTypedData) and a tree built by @openzeppelin/merkle-tree's
// StandardMerkleTree -- independent of the project's own Rust and Solidity code. The Rust crate
// (protocol/tests/it/interop.rs) and the Forge test (contracts/test/unit/Interop.t.sol) must
// accept every signature, digest, leaf and proof in it.
//
// Usage (from the repository root):
//   node tests/interop/make-fixture.mjs           regenerate the fixture
//   node tests/interop/make-fixture.mjs --check   exit 1 if the committed fixture is stale
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { hashTypedData, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const output = join(root, "contracts", "test", "fixtures", "interop-viem.json");
const require = createRequire(import.meta.url);
const version = (pkg) => require(`${pkg}/package.json`).version;

// Test-only keys, derived from public labels: never use them for anything of value. The Rust
// fixture derives the same keys the same way (keccak256 of the UTF-8 label).
const keyOf = (label) => keccak256(toHex(label));
const payerA = privateKeyToAccount(keyOf("fairtrain interop payer A")); // signs its own receipts
const payerB = privateKeyToAccount(keyOf("fairtrain interop payer B")).address; // only an address
const signerB = privateKeyToAccount(keyOf("fairtrain interop signer B")); // payer B's signing key

const chainId = 31337;
const verifyingContract = "0x00000000000000000000000000000000000e5c40";
const domain = { name: "Fairtrain TrainingEscrow", version: "1", chainId, verifyingContract };
const types = {
  Receipt: [
    { name: "payer", type: "address" },
    { name: "licenseId", type: "uint256" },
    { name: "termsId", type: "uint64" },
    { name: "runId", type: "bytes32" },
    { name: "cumulativeSamples", type: "uint64" },
    { name: "issuedAt", type: "uint64" },
  ],
};

// Licenses 1..3, minted in this order with distinct terms, so terms ids are 1..3.
const licenses = [
  { licenseId: 1n, termsId: 1n, pricePerSample: 1_000_000_000_000n },
  { licenseId: 2n, termsId: 2n, pricePerSample: 3_000_000_000_000n },
  { licenseId: 3n, termsId: 3n, pricePerSample: 5_000_000_000_000_000n },
];

const alpha = keccak256(toHex("run-alpha"));
const beta = keccak256(toHex("run-beta"));
const t0 = 1_750_000_000n;
// [signing account, receipt]. Receipt 3 supersedes receipt 0 (same usage key, higher count).
const inputs = [
  [payerA, { payer: payerA.address, licenseId: 1n, termsId: 1n, runId: alpha, cumulativeSamples: 1000n, issuedAt: t0 }],
  [payerA, { payer: payerA.address, licenseId: 2n, termsId: 2n, runId: alpha, cumulativeSamples: 250n, issuedAt: t0 + 60n }],
  [signerB, { payer: payerB, licenseId: 1n, termsId: 1n, runId: beta, cumulativeSamples: 4096n, issuedAt: t0 + 120n }],
  [payerA, { payer: payerA.address, licenseId: 1n, termsId: 1n, runId: alpha, cumulativeSamples: 1500n, issuedAt: t0 + 180n }],
  [signerB, { payer: payerB, licenseId: 3n, termsId: 3n, runId: beta, cumulativeSamples: 7n, issuedAt: t0 + 240n }],
];

async function build() {
  const signers = [];
  const signatures = [];
  const digests = [];
  for (const [account, message] of inputs) {
    signers.push(account.address);
    signatures.push(await account.signTypedData({ domain, types, primaryType: "Receipt", message }));
    digests.push(hashTypedData({ domain, types, primaryType: "Receipt", message }));
  }
  const tree = StandardMerkleTree.of(digests.map((d) => [d]), ["bytes32"]);
  const dec = (n) => n.toString(10);
  return {
    generator: `tests/interop/make-fixture.mjs: viem ${version("viem")} signTypedData/hashTypedData, @openzeppelin/merkle-tree ${version("@openzeppelin/merkle-tree")} StandardMerkleTree`,
    chainId,
    verifyingContract,
    licenses: licenses.map((l) => ({
      licenseId: dec(l.licenseId),
      termsId: dec(l.termsId),
      pricePerSample: dec(l.pricePerSample),
    })),
    receipts: inputs.map(([, r]) => ({
      payer: r.payer,
      licenseId: dec(r.licenseId),
      termsId: dec(r.termsId),
      runId: r.runId,
      cumulativeSamples: dec(r.cumulativeSamples),
      issuedAt: dec(r.issuedAt),
    })),
    signers,
    signatures,
    digests,
    leaves: digests.map((d) => tree.leafHash([d])),
    root: tree.root,
    proofs: digests.map((_, i) => tree.getProof(i)),
  };
}

const text = JSON.stringify(await build(), null, 2) + "\n";
if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(output, "utf8");
  } catch {
    // A missing file is stale too.
  }
  if (committed !== text) {
    console.error(`${output} is stale: run node tests/interop/make-fixture.mjs`);
    process.exit(1);
  }
  console.log(`${output} is up to date`);
} else {
  writeFileSync(output, text);
  console.log(`wrote ${output}`);
}
