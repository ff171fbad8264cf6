//! Shared protocol types of Fairtrain's `TrainingEscrow`, for every off-chain client (relayer,
//! indexer, SDKs).
//!
//! A payer's signing key signs cumulative usage [`Receipt`]s with EIP-712 under the escrow's
//! [`EscrowDomain`]. A relayer gathers signed receipts into a batch: each receipt's EIP-712
//! digest becomes a Merkle [`leaf()`] (`keccak256(keccak256(abi.encode(digest)))`, the
//! OpenZeppelin `StandardMerkleTree` leaf of type `bytes32`), the leaves form a
//! [`ReceiptTree`] whose inner nodes hash sorted pairs (OpenZeppelin `commutativeKeccak256`),
//! and the relayer commits the tree's root on-chain. Anyone can then claim a receipt with its
//! signature and a Merkle proof that the escrow checks with OpenZeppelin's `MerkleProof`.
//!
//! The modules follow that path, one job each:
//!
//! - [`receipt`]: the [`Receipt`] struct (the Solidity `Escrow.Receipt`) and its usage key.
//! - [`domain`]: the EIP-712 domain of the escrow, its cached separator and receipt digests.
//! - [`signing`]: signing receipts into 65-byte `r ‖ s ‖ v` signatures, strict parsing, recovery
//!   and verification (malleable high-`s` signatures are rejected, as on-chain).
//! - [`mod@leaf`]: the Merkle leaf of a digest.
//! - [`merkle`]: the receipt tree (built with `rs_merkle`), proofs, and a standalone
//!   [`merkle::verify`] with the semantics of OpenZeppelin's `MerkleProof.processProof`.
//! - [`wire`]: [`SignedReceipt`], the JSON form of a signed receipt (decimal strings, hex bytes).
//! - [`batch`]: [`BatchData`], the document a relayer publishes per batch, its hash and its
//!   verification (signatures recover, receipts hash to the root).
//! - [`manifest`]: [`DatasetManifest`], the signed description of a dataset (files, content
//!   hashes, a Merkle root over them, metadata) whose EIP-712 digest a license records as its
//!   `manifestHash`; building one from a folder and verifying a folder against it.
//! - [`gateway`]: the signed requests of a data gateway (access to a licensed dataset's files,
//!   publishing a dataset), EIP-712 typed data under a [`gateway::GatewayDomain`].
//! - [`bindings`]: `sol!` bindings of `TrainingEscrow`, `LicenseNFT`, `RoyaltyStreams`,
//!   `RevenuePool`, `RevenuePoolFactory` and ERC-20, generated from
//!   the forge artifacts' ABIs.
//! - [`api`]: the types of the relayer's and the indexer's HTTP APIs and their one error
//!   envelope.
//! - [`escrow`]: the escrow's state derived from its events: the one reducer ([`escrow::apply`])
//!   over a small storage trait, and an in-memory store.
//! - [`claim`]: the `Escrow.Claim` of a signed receipt and its proof, and the checks a claim
//!   must pass that need no chain state.
//! - [`deployment`]: [`Deployment`], the deployment file every client reads
//!   (`deployments/<chainId>.json`).
//! - `fetch` (feature `fetch`): the one fetcher of published batch data (`https://`,
//!   `ipfs://` through a gateway), with the rules that make an on-chain URI safe to fetch.
//! - `relayer_client` (feature `fetch`): the one client of a relayer's receipt API (bulk
//!   submission with retries), used by the SDK's meter and by the data gateway.
//! - [`pricing`]: [`pricing::Unit`], what a license's price is paid per (sample, access,
//!   inference), and the run id of a receipt that pays for one access.
//! - [`units`]: token amounts for people (base units as whole tokens).
//! - [`error`]: the crate's [`Error`] type.
//!
//! ```
//! use alloy::{
//!     primitives::{address, b256, keccak256, U256},
//!     signers::local::PrivateKeySigner,
//! };
//! use fairtrain_protocol::{leaf, merkle, EscrowDomain, Receipt, ReceiptTree};
//!
//! let domain = EscrowDomain::new(31337, address!("0x00000000000000000000000000000000000e5c40"));
//! let key = PrivateKeySigner::from_bytes(&keccak256("an example key")).unwrap();
//! let receipt = Receipt {
//!     payer: key.address(),
//!     licenseId: U256::from(1),
//!     termsId: 1,
//!     runId: b256!("0x0000000000000000000000000000000000000000000000000000000000000001"),
//!     cumulativeSamples: 1_000,
//!     issuedAt: 1_750_000_000,
//! };
//!
//! let signature = domain.sign(&key, &receipt).unwrap();
//! assert_eq!(domain.recover(&receipt, signature.as_bytes()).unwrap(), key.address());
//!
//! let leaves = vec![leaf(&domain.digest(&receipt)), leaf(&[7u8; 32].into())];
//! let tree = ReceiptTree::from_leaves(&leaves).unwrap();
//! let proof = tree.proof(0).unwrap();
//! assert!(merkle::verify(&proof, tree.root(), leaves[0]));
//! ```

pub mod api;
pub mod batch;
pub mod bindings;
pub mod claim;
pub mod deployment;
pub mod domain;
pub mod error;
pub mod escrow;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod gateway;
pub mod leaf;
pub mod manifest;
pub mod merkle;
pub mod pricing;
pub mod receipt;
#[cfg(feature = "fetch")]
pub mod relayer_client;
pub mod reuse;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod signing;
pub mod units;
pub mod wire;

pub use batch::{BatchData, BatchError};
pub use deployment::{Deployment, DeploymentError};
pub use domain::EscrowDomain;
pub use error::{Error, Result};
pub use leaf::leaf;
pub use manifest::{DatasetManifest, FileEntry, ManifestError};
pub use merkle::ReceiptTree;
pub use receipt::Receipt;
pub use signing::ReceiptSignature;
pub use wire::SignedReceipt;
