//! `fairtrain manifest build|sign|verify`: dataset manifests (docs/manifest.md).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use clap::{Args, Subcommand};
use fairtrain_protocol::{
    manifest::{device, DeviceProfile},
    DatasetManifest, FileEntry,
};
use serde::Serialize;

use crate::{
    chain::Chain,
    error::{CliError, Result},
    opts::GlobalOpts,
    output::Render,
};

/// Manifest subcommands.
#[derive(Debug, Subcommand)]
pub enum ManifestCmd {
    /// Hash every file of a folder and write an (optionally signed) manifest.
    Build(BuildArgs),
    /// Sign a manifest with the creator's key (in place, or to --out).
    Sign(SignArgs),
    /// Verify a manifest's signature and files root; optionally a folder and a license.
    Verify(VerifyArgs),
    /// Print the Merkle proof that one file belongs to a (verified) manifest.
    Prove(ProveArgs),
}

/// `manifest prove`.
#[derive(Clone, Debug, Args)]
pub struct ProveArgs {
    /// The manifest file.
    pub manifest: PathBuf,
    /// The file's path in the manifest (relative, '/'-separated).
    pub path: String,
}

/// What `prove` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileProof {
    /// The file's entry.
    pub file: FileEntry,
    /// Its leaf.
    pub leaf: B256,
    /// Sibling hashes from the leaf up (OpenZeppelin `MerkleProof`, sorted pairs).
    pub proof: Vec<B256>,
    /// The manifest's files root.
    pub files_root: B256,
    /// The manifest hash.
    pub manifest_hash: B256,
}

impl Render for FileProof {
    fn text(&self) -> String {
        let mut lines = vec![
            format!(
                "{} ({} bytes, keccak256 {})",
                self.file.path, self.file.size, self.file.hash
            ),
            format!("  leaf       {}", self.leaf),
            format!("  files root {}", self.files_root),
            format!("  proof ({} hashes):", self.proof.len()),
        ];
        lines.extend(self.proof.iter().map(|h| format!("    {h}")));
        lines.join("\n")
    }
}

/// `manifest prove`: verifies the manifest, then proves one file.
///
/// # Errors
///
/// A manifest that does not verify, or a path it does not list.
pub fn prove(args: &ProveArgs) -> Result<FileProof> {
    let m = read(&args.manifest)?;
    let manifest_hash = m.verify()?;
    let index = m
        .files
        .binary_search_by(|f| f.path.as_bytes().cmp(args.path.as_bytes()))
        .map_err(|_| {
            CliError::Invalid(format!(
                "the manifest lists no file {:?} (paths are relative to the dataset folder, '/'-separated)",
                args.path
            ))
        })?;
    let proof = m.file_proof(index)?.expect("the index is in range");
    let file = m.files[index].clone();
    Ok(FileProof {
        leaf: file.leaf(),
        file,
        proof,
        files_root: m.files_root,
        manifest_hash,
    })
}

/// `manifest build`.
#[derive(Clone, Debug, Args)]
pub struct BuildArgs {
    /// The dataset folder.
    pub dir: PathBuf,
    /// The dataset's name.
    #[arg(long)]
    pub name: String,
    /// What the dataset is.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Collection or device metadata, `key=value`, repeatable.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// A quantum device profile (JSON: provider, backend, qubits, calibratedAt, shots,
    /// circuits, qubitProperties, gates; docs/manifest.md §7), validated and signed as the
    /// metadata's `device.` entries.
    #[arg(long, value_name = "FILE")]
    pub device: Option<PathBuf>,
    /// The creator's address [default: the key's address].
    #[arg(long)]
    pub creator: Option<Address>,
    /// Creation time in unix seconds [default: now].
    #[arg(long)]
    pub created_at: Option<u64>,
    /// Also sign with the key (which must be the creator's).
    #[arg(long)]
    pub sign: bool,
    /// Where to write the manifest.
    #[arg(long, short)]
    pub out: PathBuf,
}

/// `manifest sign`.
#[derive(Clone, Debug, Args)]
pub struct SignArgs {
    /// The manifest file.
    pub manifest: PathBuf,
    /// Write the signed manifest here instead of in place.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// `manifest verify`.
#[derive(Clone, Debug, Args)]
pub struct VerifyArgs {
    /// The manifest file.
    pub manifest: PathBuf,
    /// Check that this folder holds exactly the manifest's files.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Check on-chain that this license covers the manifest and was minted by its creator.
    #[arg(long)]
    pub license: Option<U256>,
}

/// What `build` and `sign` report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestReport {
    /// The file written.
    pub path: PathBuf,
    /// Dataset name.
    pub name: String,
    /// Creator.
    pub creator: Address,
    /// Number of files.
    pub file_count: usize,
    /// Total bytes.
    pub total_size: u64,
    /// Files root.
    pub files_root: B256,
    /// The manifest hash (what a license records).
    pub manifest_hash: B256,
    /// Whether it is signed.
    pub signed: bool,
}

impl ManifestReport {
    fn new(path: &Path, m: &DatasetManifest) -> Self {
        Self {
            path: path.to_owned(),
            name: m.name.clone(),
            creator: m.creator,
            file_count: m.files.len(),
            total_size: m.total_size(),
            files_root: m.files_root,
            manifest_hash: m.hash(),
            signed: m.signature.is_some(),
        }
    }
}

impl Render for ManifestReport {
    fn text(&self) -> String {
        let next = if self.signed {
            "mint a license for it with `fairtrain license mint --manifest <file> ...`"
        } else {
            "sign it with `fairtrain manifest sign <file>` (creator's key)"
        };
        format!(
            "manifest {} ({})\n  name          {}\n  creator       {}\n  files         {} ({} bytes)\n  files root    {}\n  manifest hash {}\nnext: {next}",
            self.path.display(),
            if self.signed { "signed" } else { "unsigned" },
            self.name,
            self.creator,
            self.file_count,
            self.total_size,
            self.files_root,
            self.manifest_hash,
        )
    }
}

/// What `verify` reports (only when everything checked out).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// The manifest hash.
    pub manifest_hash: B256,
    /// The creator the signature recovers to.
    pub creator: Address,
    /// Number of files.
    pub file_count: usize,
    /// The folder checked, if any.
    pub folder: Option<PathBuf>,
    /// The license checked, if any (decimal).
    pub license: Option<String>,
}

impl Render for VerifyReport {
    fn text(&self) -> String {
        let mut lines = vec![
            format!("ok: signed by its creator {}", self.creator),
            format!(
                "ok: files root matches the {} files listed",
                self.file_count
            ),
        ];
        if let Some(dir) = &self.folder {
            lines.push(format!(
                "ok: {} holds exactly these files (sizes and keccak256 hashes match)",
                dir.display()
            ));
        }
        if let Some(id) = &self.license {
            lines.push(format!(
                "ok: license {id} records this manifest and was minted by its creator"
            ));
        }
        lines.push(format!("manifest hash {}", self.manifest_hash));
        lines.join("\n")
    }
}

/// Reads and parses a manifest file.
///
/// # Errors
///
/// [`CliError::Io`] or [`CliError::Manifest`].
pub fn read(path: &Path) -> Result<DatasetManifest> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(DatasetManifest::parse(&bytes)?)
}

fn write(path: &Path, m: &DatasetManifest) -> Result<()> {
    std::fs::write(path, m.to_json()).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })
}

fn parse_meta(entries: &[String]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for entry in entries {
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| CliError::Invalid(format!("--meta {entry:?}: expected KEY=VALUE")))?;
        if key.is_empty() {
            return Err(CliError::Invalid(format!("--meta {entry:?}: empty key")));
        }
        if map.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(CliError::Invalid(format!("--meta key {key:?} given twice")));
        }
    }
    Ok(map)
}

/// The `device.` metadata of the profile in `path`, which `--meta` must not also give.
fn device_metadata(
    path: &Path,
    meta: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read(path).map_err(|source| CliError::Io {
        path: path.to_owned(),
        source,
    })?;
    let profile: DeviceProfile = serde_json::from_slice(&text)
        .map_err(|e| CliError::Invalid(format!("--device {}: {e}", path.display())))?;
    let entries = profile
        .to_metadata()
        .map_err(|e| CliError::Invalid(format!("--device {}: {e}", path.display())))?;
    if let Some(key) = meta.keys().find(|k| k.starts_with(device::PREFIX)) {
        return Err(CliError::Invalid(format!(
            "--meta {key} and --device both give the device profile: use --device only"
        )));
    }
    Ok(entries)
}

/// `manifest build`: hashes the folder and writes the manifest.
///
/// # Errors
///
/// A folder that cannot be read, is empty or holds symlinks; bad `--meta`; no creator.
pub fn build(args: &BuildArgs, key: Option<&PrivateKeySigner>) -> Result<ManifestReport> {
    let creator = match (args.creator, key) {
        (Some(creator), _) => creator,
        (None, Some(key)) => key.address(),
        (None, None) => {
            return Err(CliError::Invalid(
                "name the creator with --creator, or give the creator's key".into(),
            ))
        }
    };
    let created_at = args.created_at.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let mut metadata = parse_meta(&args.meta)?;
    if let Some(path) = &args.device {
        metadata.extend(device_metadata(path, &metadata)?);
    }
    let mut m = DatasetManifest::of_folder(
        &args.dir,
        &args.name,
        &args.description,
        creator,
        created_at,
        metadata,
    )?;
    if args.sign {
        m.sign(key.ok_or(CliError::NoKey)?)?;
    }
    write(&args.out, &m)?;
    Ok(ManifestReport::new(&args.out, &m))
}

/// `manifest sign`: signs with the creator's key.
///
/// # Errors
///
/// An unreadable manifest, or a key that is not the creator's.
pub fn sign(args: &SignArgs, key: &PrivateKeySigner) -> Result<ManifestReport> {
    let mut m = read(&args.manifest)?;
    m.sign(key)?;
    // Sign only what is internally consistent.
    m.verify()?;
    let out = args.out.as_deref().unwrap_or(&args.manifest);
    write(out, &m)?;
    Ok(ManifestReport::new(out, &m))
}

/// `manifest verify`: the document, then the folder, then the license.
///
/// # Errors
///
/// The first check that fails.
pub async fn verify(args: &VerifyArgs, global: &GlobalOpts) -> Result<VerifyReport> {
    let m = read(&args.manifest)?;
    let manifest_hash = m.verify()?;
    if let Some(dir) = &args.dir {
        m.verify_folder(dir)?;
    }
    if let Some(id) = args.license {
        let chain = Chain::connect(&global.rpc, None).await?;
        let nft = chain.nft();
        let record = chain.read("reading the license", nft.license(id)).await?;
        m.check_license(id, &record)?;
    }
    Ok(VerifyReport {
        manifest_hash,
        creator: m.creator,
        file_count: m.files.len(),
        folder: args.dir.clone(),
        license: args.license.map(|id| id.to_string()),
    })
}
