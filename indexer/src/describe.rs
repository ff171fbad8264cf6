//! A catalog dataset described in the formats others read, generated from what the chain and
//! the creator's signed manifest say (nothing typed twice):
//!
//! - [`croissant`]: a Croissant 1.0 JSON-LD document (MLCommons), every file a `cr:FileObject`
//!   with its size, media type, SHA-256 (the gateway's, from the bytes it holds) and keccak256
//!   (the creator's, signed), so the dataset can be listed wherever Croissant is read;
//! - [`tdm_policy`]: the license's terms as a TDMRep policy (W3C TDM Reservation Protocol, an
//!   ODRL 2.2 offer): mining reserved, permitted against compensation, for research only when
//!   the terms say so, until the terms expire;
//! - the IETF AI-preferences of licensed data ([`CONTENT_USAGE`]: every dataset in the catalog
//!   is licensed, so it is the same for all) and its TDMRep reservation, in the Croissant
//!   document; the gateway sends both as headers with every file.
//!
//! docs/indexer.md ("Descriptions") gives every field and where it comes from.

use std::collections::BTreeMap;

use alloy::primitives::B256;
use fairtrain_protocol::{
    api::indexer::CatalogEntry,
    pricing::Unit,
    reuse::{CONTENT_USAGE, TDM_RESERVATION},
    DatasetManifest,
};
use serde_json::{json, Map, Value};

/// Files a Croissant document lists at most; a larger dataset's document lists the first ones
/// and says how many there are (the signed manifest lists them all).
pub const MAX_FILE_OBJECTS: usize = 10_000;

/// Prefix of the terms this project adds to the documents (`ft:`).
const FT: &str = "urn:fairtrain:";

/// Where a dataset's descriptions and files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Links {
    /// The dataset's card (JSON): the dataset's identity in the documents.
    pub card: String,
    /// Its catalog page (HTML), for people.
    pub page: String,
    /// Its TDMRep policy.
    pub policy: String,
    /// The gateway that publishes it (no trailing `/`).
    pub gateway: String,
}

impl Links {
    /// The links of license `license_id`'s dataset on an indexer reached at `base` (no
    /// trailing `/`), published by `gateway`.
    pub fn new(base: &str, license_id: &str, gateway: &str) -> Self {
        Self {
            card: format!("{base}/api/catalog/{license_id}"),
            page: format!("{base}/catalog#{license_id}"),
            policy: format!("{base}/api/catalog/{license_id}/tdm-policy"),
            gateway: gateway.trim_end_matches('/').to_owned(),
        }
    }

    /// Where the gateway serves dataset `manifest_hash`'s files (with a grant), as a base for
    /// [`file_url`]; `None` if the gateway's URL cannot be one.
    fn files(&self, manifest_hash: B256) -> Option<url::Url> {
        let mut url = url::Url::parse(&self.gateway).ok()?;
        url.path_segments_mut().ok()?.pop_if_empty().extend([
            "v1",
            "datasets",
            &manifest_hash.to_string(),
            "files",
        ]);
        Some(url)
    }
}

/// The URL of file `path` under `files` ([`Links::files`]), each segment percent-encoded; empty
/// without a base.
fn file_url(files: Option<&url::Url>, path: &str) -> String {
    let Some(mut url) = files.cloned() else {
        return String::new();
    };
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.extend(path.split('/'));
    }
    url.to_string()
}

/// The Croissant 1.0 document of `entry`'s dataset: `manifest` is the creator's signed manifest,
/// `sha256` the files' SHA-256 by path (files without one are listed without it).
pub fn croissant(
    entry: &CatalogEntry,
    manifest: &DatasetManifest,
    sha256: &BTreeMap<String, B256>,
    links: &Links,
) -> Value {
    let hash = manifest.hash();
    let files = links.files(hash);
    let distribution: Vec<Value> = manifest
        .files
        .iter()
        .take(MAX_FILE_OBJECTS)
        .map(|file| {
            let mut object = json!({
                "@type": "cr:FileObject",
                "@id": file.path,
                "name": file.path,
                "contentUrl": file_url(files.as_ref(), &file.path),
                "contentSize": format!("{} B", file.size),
                "encodingFormat": media_type(&file.path),
                "ft:keccak256": format!("{:#x}", file.hash),
            });
            if let Some(digest) = sha256.get(&file.path) {
                object["sha256"] = json!(format!("{digest:x}"));
            }
            object
        })
        .collect();
    let description = if manifest.description.is_empty() {
        format!("{}: a dataset licensed through Fairtrain.", manifest.name)
    } else {
        manifest.description.clone()
    };
    let mut keywords: Vec<&str> = vec!["fairtrain", entry.kind.as_str()];
    if entry.device.is_some() {
        keywords.push("quantum");
    }
    json!({
        "@context": context(),
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "@id": links.card,
        "name": manifest.name,
        "description": description,
        "url": links.page,
        "license": if entry.terms_uri.is_empty() { &links.policy } else { &entry.terms_uri },
        "usageInfo": links.policy,
        "isAccessibleForFree": false,
        "conditionsOfAccess": conditions(entry),
        "creator": {
            "@type": "sc:Person",
            "name": entry.creator,
            "identifier": entry.creator,
        },
        "datePublished": date(manifest.created_at),
        "citeAs": cite_as(entry, manifest, hash, links),
        "keywords": keywords,
        "ft:licenseId": entry.license_id,
        "ft:termsId": entry.terms_id,
        "ft:manifestHash": format!("{hash:#x}"),
        "ft:filesRoot": format!("{:#x}", manifest.files_root),
        "ft:fileCount": manifest.files.len(),
        "ft:unit": entry.unit.name(),
        "ft:pricePerUnit": entry.price_per_sample.display,
        "ft:token": entry.price_per_sample.token,
        "ft:holder": entry.holder,
        "ft:contentUsage": CONTENT_USAGE,
        "ft:tdmReservation": TDM_RESERVATION.parse::<u8>().unwrap_or(1),
        "distribution": distribution,
    })
}

/// How a payer gets the data, in one sentence.
fn conditions(entry: &CatalogEntry) -> String {
    let who = match &entry.exclusive_licensee {
        Some(licensee) => format!("Only {licensee} may accept"),
        None => "Accept".to_owned(),
    };
    let price = &entry.price_per_sample.display;
    let paid = match entry.unit {
        Unit::Sample => format!("training pays {price} per sample through the escrow"),
        Unit::Access => format!(
            "each access pays {price} through the escrow, by a receipt the payer signs with its \
             access request"
        ),
        Unit::Inference => {
            format!("each inference of a model trained on it pays {price} through the escrow")
        }
    };
    format!(
        "{who} the terms of license {} on-chain (TrainingEscrow); {paid}; files are served by \
         the gateway only against a signed access request from an accepting payer.",
        entry.license_id
    )
}

/// Croissant 1.0's `@context`, as the specification gives it, with the two terms mlcroissant
/// also expects and the prefix of this project's terms.
fn context() -> Value {
    let mut context: Map<String, Value> = serde_json::from_str(
        r#"{"@language":"en","@vocab":"https://schema.org/","sc":"https://schema.org/",
        "cr":"http://mlcommons.org/croissant/","rai":"http://mlcommons.org/croissant/RAI/",
        "dct":"http://purl.org/dc/terms/","citeAs":"cr:citeAs","column":"cr:column",
        "conformsTo":"dct:conformsTo","data":{"@id":"cr:data","@type":"@json"},
        "dataType":{"@id":"cr:dataType","@type":"@vocab"},
        "examples":{"@id":"cr:examples","@type":"@json"},"extract":"cr:extract",
        "field":"cr:field","fileProperty":"cr:fileProperty","fileObject":"cr:fileObject",
        "fileSet":"cr:fileSet","format":"cr:format","includes":"cr:includes",
        "isLiveDataset":"cr:isLiveDataset","jsonPath":"cr:jsonPath","key":"cr:key",
        "md5":"cr:md5","parentField":"cr:parentField","path":"cr:path",
        "recordSet":"cr:recordSet","references":"cr:references","regex":"cr:regex",
        "repeated":"cr:repeated","replace":"cr:replace","separator":"cr:separator",
        "source":"cr:source","subField":"cr:subField","transform":"cr:transform",
        "equivalentProperty":"cr:equivalentProperty","samplingRate":"cr:samplingRate"}"#,
    )
    .expect("the Croissant context is JSON");
    context.insert("ft".to_owned(), json!(FT));
    Value::Object(context)
}

/// The TDMRep policy of `entry`'s terms: an ODRL offer, by the license's holder (who is paid),
/// to mine the dataset against compensation per sample; for research only if the terms are
/// research-only; until the terms expire.
pub fn tdm_policy(entry: &CatalogEntry, links: &Links) -> Value {
    let mut constraints = Vec::new();
    if entry.kind == "research_only" {
        constraints.push(json!({
            "leftOperand": "purpose", "operator": "eq", "rightOperand": "tdm:research"
        }));
    }
    if entry.expires_at != 0 {
        constraints.push(json!({
            "leftOperand": "dateTime", "operator": "lt", "rightOperand": date_time(entry.expires_at)
        }));
    }
    let duty = if entry.price_per_sample.units == "0" {
        "obtainConsent"
    } else {
        "compensate"
    };
    let mut permission = json!({
        "target": links.card,
        "action": "tdm:mine",
        "duty": [{ "action": duty }],
    });
    if !constraints.is_empty() {
        permission["constraint"] = json!(constraints);
    }
    json!({
        "@context": ["http://www.w3.org/ns/odrl.jsonld", "http://www.w3.org/ns/tdmrep.jsonld"],
        "@type": "Offer",
        "profile": "http://www.w3.org/ns/tdmrep",
        "uid": links.policy,
        "assigner": {
            "uid": format!("ethereum:{}", entry.holder),
            "vcard:fn": format!("Holder of Fairtrain license {}", entry.license_id),
            "vcard:hasURL": links.page,
        },
        "permission": [permission],
    })
}

/// The media type of a file, from its extension (`application/octet-stream` when unknown).
pub fn media_type(path: &str) -> &'static str {
    let extension = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "txt" | "md" => "text/plain",
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/jsonlines",
        "parquet" => "application/x-parquet",
        "arrow" => "application/vnd.apache.arrow.file",
        "npy" => "application/x-npy",
        "npz" => "application/x-npz",
        "h5" | "hdf5" => "application/x-hdf5",
        "qpy" => "application/x-qpy",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        "gz" | "tgz" => "application/gzip",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// A Unix time as an ISO 8601 date.
fn date(seconds: u64) -> String {
    timestamp(seconds).map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}

/// How to cite the dataset: a BibTeX `@misc` entry with its name, its creator (the address
/// that signed the manifest), the year of the manifest, its page, and the license and manifest
/// that identify it. The name is the creator's text: BibTeX's special characters in it are
/// escaped, so it cannot close the entry or inject fields (the page, the operator's URL, only
/// loses braces and backslashes, which `\url` cannot take).
fn cite_as(entry: &CatalogEntry, manifest: &DatasetManifest, hash: B256, links: &Links) -> String {
    let year =
        timestamp(manifest.created_at).map_or_else(String::new, |t| t.format("%Y").to_string());
    format!(
        "@misc{{fairtrain-license-{license},\n  title = {{{title}}},\n  author = {{{creator}}},\n  \
         year = {{{year}}},\n  howpublished = {{\\url{{{page}}}}},\n  \
         note = {{Fairtrain license {license}, manifest {hash:#x}}}\n}}",
        license = entry.license_id,
        title = bibtex(&manifest.name),
        creator = entry.creator,
        page = links
            .page
            .chars()
            .filter(|c| !matches!(c, '{' | '}' | '\\'))
            .collect::<String>(),
    )
}

/// `text` with BibTeX's special characters escaped (braces and backslash included), and line
/// breaks as spaces.
fn bibtex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '{' | '}' | '%' | '&' | '#' | '$' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => out.push_str("\\textbackslash{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '~' => out.push_str("\\textasciitilde{}"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Unix time as an ISO 8601 date and time in UTC.
fn date_time(seconds: u64) -> String {
    timestamp(seconds).map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn timestamp(seconds: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(i64::try_from(seconds).ok()?, 0)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{keccak256, Address};
    use fairtrain_protocol::{api::indexer::Amount, manifest::FileEntry};

    use super::*;

    fn entry(kind: &str, price: &str, expires_at: u64) -> CatalogEntry {
        CatalogEntry {
            license_id: "7".to_owned(),
            creator: "0x00000000000000000000000000000000000000c1".to_owned(),
            holder: "0x00000000000000000000000000000000000000d2".to_owned(),
            terms_id: 3,
            kind: kind.to_owned(),
            unit: Unit::Sample,
            price_per_sample: Amount {
                token: "0x00000000000000000000000000000000000000e3".to_owned(),
                units: price.to_owned(),
                display: format!("{price} units"),
            },
            max_samples: 0,
            expires_at,
            commercial_use: false,
            attribution_required: true,
            derivatives: "allowed".to_owned(),
            exclusive_licensee: None,
            terms_uri: String::new(),
            manifest_hash: String::new(),
            name: String::new(),
            description: String::new(),
            file_count: 0,
            total_size: "0".to_owned(),
            gateway: "https://gw.example/base/".to_owned(),
            metadata: BTreeMap::new(),
            device: None,
            payers: 0,
            samples: 0,
            earned: Vec::new(),
        }
    }

    fn manifest(paths: &[&str]) -> DatasetManifest {
        let files = paths
            .iter()
            .map(|p| FileEntry {
                path: (*p).to_owned(),
                size: p.len() as u64,
                hash: keccak256(p.as_bytes()),
            })
            .collect();
        DatasetManifest::new(
            "Shots <script>",
            "",
            Address::repeat_byte(0xc1),
            1_765_000_000,
            BTreeMap::new(),
            files,
        )
        .unwrap()
    }

    #[test]
    fn croissant_lists_each_file_with_its_hashes_at_its_gateway_url() {
        let m = manifest(&["a b/c?d#e.csv", "x.npy"]);
        let links = Links::new("http://idx:8090", "7", "https://gw.example/base/");
        let sha = B256::repeat_byte(0xab);
        let digests = BTreeMap::from([("x.npy".to_owned(), sha)]);
        let doc = croissant(&entry("commercial", "5", 0), &m, &digests, &links);

        assert_eq!(doc["conformsTo"], "http://mlcommons.org/croissant/1.0");
        assert_eq!(doc["@context"]["cr"], "http://mlcommons.org/croissant/");
        assert_eq!(doc["name"], "Shots <script>");
        assert_eq!(doc["datePublished"], "2025-12-06");
        assert_eq!(doc["license"], links.policy);
        assert_eq!(doc["ft:manifestHash"], format!("{:#x}", m.hash()));
        let files = doc["distribution"].as_array().unwrap();
        assert_eq!(files.len(), 2);
        let odd = &files[0];
        assert_eq!(odd["name"], "a b/c?d#e.csv");
        assert_eq!(
            odd["contentUrl"],
            format!(
                "https://gw.example/base/v1/datasets/{}/files/a%20b/c%3Fd%23e.csv",
                m.hash()
            )
        );
        assert_eq!(odd["encodingFormat"], "text/csv");
        assert_eq!(odd["contentSize"], "13 B");
        assert!(odd.get("sha256").is_none(), "no SHA-256 is made up");
        assert_eq!(files[1]["sha256"], "ab".repeat(32));
        assert_eq!(
            files[1]["ft:keccak256"],
            format!("{:#x}", keccak256(b"x.npy"))
        );
        assert_eq!(files[1]["encodingFormat"], "application/x-npy");
    }

    /// The citation is one BibTeX entry whatever the creator named the dataset: a name that
    /// tries to close the title and add a field stays inside the title.
    #[test]
    fn the_citation_keeps_a_crafted_name_inside_its_title() {
        let mut m = manifest(&["x.npy"]);
        m.name = "Evil}, author = {Someone else\\ 100% & #1_^~\nsecond line".to_owned();
        let links = Links::new("http://idx:8090", "7", "http://gw");
        let cite = cite_as(&entry("commercial", "5", 0), &m, m.hash(), &links);
        assert!(cite.starts_with("@misc{fairtrain-license-7,\n  title = {Evil\\}, author = \\{Someone else\\textbackslash{} 100\\% \\& \\#1\\_\\textasciicircum{}\\textasciitilde{} second line},\n"), "{cite}");
        assert!(
            cite.contains("\n  author = {0x00000000000000000000000000000000000000c1},\n"),
            "{cite}"
        );
        assert!(cite.contains("year = {2025}"), "{cite}");
        assert!(
            cite.contains("howpublished = {\\url{http://idx:8090/catalog#7}}"),
            "{cite}"
        );
        assert!(
            cite.contains(&format!("manifest {:#x}}}", m.hash())),
            "{cite}"
        );
        // Braces balance once the escaped ones are set aside: the entry closes once, at its end.
        let unescaped = cite.replace("\\{", "").replace("\\}", "");
        let mut depth = 0i32;
        for (i, c) in unescaped.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            assert!(depth > 0 || i + 1 == unescaped.len() || i < unescaped.find('{').unwrap());
        }
        assert_eq!(depth, 0);
        let doc = croissant(&entry("commercial", "5", 0), &m, &BTreeMap::new(), &links);
        assert_eq!(doc["citeAs"], cite);
    }

    #[test]
    fn croissant_lists_at_most_its_limit_of_files() {
        let paths: Vec<String> = (0..=MAX_FILE_OBJECTS).map(|i| format!("f{i:06}")).collect();
        let m = manifest(&paths.iter().map(String::as_str).collect::<Vec<_>>());
        let links = Links::new("http://idx", "7", "http://gw");
        let doc = croissant(&entry("custom", "1", 0), &m, &BTreeMap::new(), &links);
        assert_eq!(
            doc["distribution"].as_array().unwrap().len(),
            MAX_FILE_OBJECTS
        );
        assert_eq!(doc["ft:fileCount"], MAX_FILE_OBJECTS + 1);
    }

    #[test]
    fn the_tdm_policy_follows_the_terms() {
        let links = Links::new("http://idx", "7", "http://gw");
        let research = tdm_policy(&entry("research_only", "5", 1_800_000_000), &links);
        assert_eq!(research["@type"], "Offer");
        assert_eq!(research["profile"], "http://www.w3.org/ns/tdmrep");
        assert_eq!(research["uid"], links.policy);
        let permission = &research["permission"][0];
        assert_eq!(permission["action"], "tdm:mine");
        assert_eq!(permission["duty"][0]["action"], "compensate");
        assert_eq!(permission["constraint"][0]["rightOperand"], "tdm:research");
        assert_eq!(
            permission["constraint"][1]["rightOperand"],
            "2027-01-15T08:00:00Z"
        );
        assert_eq!(
            research["assigner"]["uid"],
            "ethereum:0x00000000000000000000000000000000000000d2"
        );

        let free = tdm_policy(&entry("commercial", "0", 0), &links);
        assert_eq!(free["permission"][0]["duty"][0]["action"], "obtainConsent");
        assert!(free["permission"][0].get("constraint").is_none());
    }
}
