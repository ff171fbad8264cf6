#!/usr/bin/env node
// Copies the ABIs of the deployed contracts from forge's artifacts (out/) into protocol/abi/, the
// source of the crate's `sol!` bindings. With --check, fails if a committed ABI differs from the
// current build (run after `forge build`).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// Contracts whose ABIs off-chain clients bind to: "<source file>:<contract>".
const contracts = [
  "LicenseNFT.sol:LicenseNFT",
  "TrainingEscrow.sol:TrainingEscrow",
  "RoyaltyStreams.sol:RoyaltyStreams",
  "RevenuePool.sol:RevenuePool",
  "RevenuePoolFactory.sol:RevenuePoolFactory",
];
const check = process.argv.includes("--check");

let stale = [];
for (const id of contracts) {
  const [file, name] = id.split(":");
  const artifact = join(root, "out", file, `${name}.json`);
  if (!existsSync(artifact)) {
    console.error(`error: ${artifact} is missing; run 'forge build' first`);
    process.exit(1);
  }
  const abi = JSON.parse(readFileSync(artifact, "utf8")).abi;
  const text = JSON.stringify(abi, null, 2) + "\n";
  const target = join(root, "protocol", "abi", `${name}.json`);
  if (check) {
    if (!existsSync(target) || readFileSync(target, "utf8") !== text) stale.push(target);
  } else {
    writeFileSync(target, text);
    console.log(`wrote ${target}`);
  }
}
if (stale.length) {
  console.error(`error: ABI out of date (run 'node scripts/lib/export-abi.mjs'): ${stale.join(", ")}`);
  process.exit(1);
}
if (check) console.log(`abi: ${contracts.length} committed ABIs match the build`);
