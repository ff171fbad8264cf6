#!/usr/bin/env node
// Checks interop fixtures with viem and @openzeppelin/merkle-tree (not the project's code):
// every digest (hashTypedData), signer (recoverTypedDataAddress, v in {27, 28}), leaf
// (keccak256(keccak256(abi.encode(digest)))) and proof (StandardMerkleTree.verify, i.e.
// OpenZeppelin processProof) against the root. Most useful on interop-rust.json, whose tree
// is rs_merkle's, not OpenZeppelin's.
//
// Usage (from the repository root):
//   node tests/interop/verify-fixture.mjs [fixture.json ...]   (default: both fixtures)
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { encodeAbiParameters, hashTypedData, keccak256, recoverTypedDataAddress } from "viem";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "contracts", "test", "fixtures");
const files = process.argv.slice(2);
if (files.length === 0) files.push(join(fixtures, "interop-viem.json"), join(fixtures, "interop-rust.json"));

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

let failures = 0;
const check = (ok, what) => {
  if (!ok) {
    failures += 1;
    console.error(`FAIL ${what}`);
  }
};

for (const file of files) {
  const f = JSON.parse(readFileSync(file, "utf8"));
  const domain = { name: "Fairtrain TrainingEscrow", version: "1", chainId: f.chainId, verifyingContract: f.verifyingContract };
  f.receipts.forEach((r, i) => {
    const message = {
      payer: r.payer,
      licenseId: BigInt(r.licenseId),
      termsId: BigInt(r.termsId),
      runId: r.runId,
      cumulativeSamples: BigInt(r.cumulativeSamples),
      issuedAt: BigInt(r.issuedAt),
    };
    const digest = hashTypedData({ domain, types, primaryType: "Receipt", message });
    check(digest === f.digests[i], `${file}: digest ${i}`);
    const v = parseInt(f.signatures[i].slice(-2), 16);
    check(v === 27 || v === 28, `${file}: signature ${i} has v=${v}`);
    const leaf = keccak256(keccak256(encodeAbiParameters([{ type: "bytes32" }], [digest])));
    check(leaf === f.leaves[i], `${file}: leaf ${i}`);
    check(StandardMerkleTree.verify(f.root, ["bytes32"], [digest], f.proofs[i]), `${file}: proof ${i}`);
  });
  const signers = await Promise.all(
    f.receipts.map((r, i) =>
      recoverTypedDataAddress({
        domain,
        types,
        primaryType: "Receipt",
        message: {
          payer: r.payer,
          licenseId: BigInt(r.licenseId),
          termsId: BigInt(r.termsId),
          runId: r.runId,
          cumulativeSamples: BigInt(r.cumulativeSamples),
          issuedAt: BigInt(r.issuedAt),
        },
        signature: f.signatures[i],
      }),
    ),
  );
  signers.forEach((s, i) => check(s === f.signers[i], `${file}: signer ${i} (${s})`));
  console.log(`${file}: ${f.receipts.length} receipts checked`);
}
if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
