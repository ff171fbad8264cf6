#!/usr/bin/env node
// Recomputes a dataset manifest's files root, manifest hash and signer with viem alone (not the
// project's code), following docs/manifest.md, and prints them as JSON. Exits 1 if the stated
// filesRoot differs or the signature does not recover to the creator.
//
// Usage (from the repository root): node tests/interop/verify-manifest.mjs manifest.json
import { readFileSync } from "node:fs";

import { concat, encodeAbiParameters, hashTypedData, keccak256, recoverTypedDataAddress } from "viem";

const m = JSON.parse(readFileSync(process.argv[2], "utf8"));

const leaf = (f) =>
  keccak256(
    keccak256(
      encodeAbiParameters(
        [{ type: "string" }, { type: "uint256" }, { type: "bytes32" }],
        [f.path, BigInt(f.size), f.hash],
      ),
    ),
  );
const pair = (a, b) => (BigInt(a) < BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a])));

let level = m.files.map(leaf);
while (level.length > 1) {
  const next = [];
  for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? pair(level[i], level[i + 1]) : level[i]);
  level = next;
}
const filesRoot = level[0];

// Keys sorted by their UTF-8 bytes.
const bytes = (s) => Buffer.from(s, "utf8");
const metadata = Object.entries(m.metadata)
  .sort(([a], [b]) => Buffer.compare(bytes(a), bytes(b)))
  .map(([key, value]) => ({ key, value }));

const typed = {
  domain: { name: "Fairtrain Dataset Manifest", version: "1" },
  types: {
    Manifest: [
      { name: "name", type: "string" },
      { name: "description", type: "string" },
      { name: "creator", type: "address" },
      { name: "createdAt", type: "uint64" },
      { name: "metadata", type: "MetadataEntry[]" },
      { name: "filesRoot", type: "bytes32" },
      { name: "fileCount", type: "uint64" },
      { name: "totalSize", type: "uint64" },
    ],
    MetadataEntry: [
      { name: "key", type: "string" },
      { name: "value", type: "string" },
    ],
  },
  primaryType: "Manifest",
  message: {
    name: m.name,
    description: m.description,
    creator: m.creator,
    createdAt: BigInt(m.createdAt),
    metadata,
    filesRoot: m.filesRoot,
    fileCount: BigInt(m.files.length),
    totalSize: m.files.reduce((s, f) => s + BigInt(f.size), 0n),
  },
};
const manifestHash = hashTypedData(typed);
const signer = m.signature ? await recoverTypedDataAddress({ ...typed, signature: m.signature }) : null;
const ok = filesRoot === m.filesRoot && signer !== null && signer.toLowerCase() === m.creator.toLowerCase();
console.log(JSON.stringify({ filesRoot, manifestHash, signer, ok }));
process.exit(ok ? 0 : 1);
