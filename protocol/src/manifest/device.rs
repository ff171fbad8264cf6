//! The quantum device profile of a dataset: the device its data was measured on, typed, carried
//! in the manifest's signed metadata under `device.` keys (docs/manifest.md §7), so the creator's
//! signature covers it and the manifest format does not change.
//!
//! The fields map onto Qiskit's `Target` (which replaced `BackendProperties`): per qubit, T1 and
//! T2 (`Target.qubit_properties[i].t1/.t2`, seconds) and the readout error (the `measure`
//! instruction's error on that qubit); per gate and qubits, the error and duration
//! (`Target[name][qargs].error/.duration`, seconds).
//!
//! | key | value |
//! | --- | --- |
//! | `device.provider`, `device.backend` | text |
//! | `device.qubits`, `device.shots`, `device.circuits` | decimal integers |
//! | `device.calibratedAt` | unix seconds |
//! | `device.qubit.<i>.t1`, `.t2`, `.readoutError` | decimal numbers (seconds; a probability) |
//! | `device.gate.<name>.<q0>[_<q1>…].error`, `.duration` | decimal numbers (a probability; seconds) |
//!
//! [`DeviceProfile::to_metadata`] and [`DeviceProfile::from_metadata`] convert both ways and
//! validate: a manifest whose `device.` entries do not form a valid profile is refused when it is
//! built and when its profile is read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The prefix of the profile's metadata keys.
pub const PREFIX: &str = "device.";

/// Why a device profile is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("device profile: {0}")]
pub struct DeviceError(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, DeviceError> {
    Err(DeviceError(message.into()))
}

/// One qubit's calibration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QubitProperties {
    /// T1 relaxation time, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t1: Option<f64>,
    /// T2 dephasing time, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t2: Option<f64>,
    /// Readout (measurement) error, a probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readout_error: Option<f64>,
}

/// One gate on some qubits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GateProperties {
    /// The gate's name, as the device calls it (`cx`, `ecr`, `sx`, …).
    pub name: String,
    /// The qubits it acts on, in order.
    pub qubits: Vec<u32>,
    /// Its error, a probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<f64>,
    /// Its duration, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
}

/// A quantum device's profile (see the module's documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceProfile {
    /// Who runs the device (`ibm`, `ionq`, `aws`, …).
    pub provider: String,
    /// The backend's name.
    pub backend: String,
    /// Number of qubits.
    pub qubits: u32,
    /// When the calibration below was taken, unix seconds.
    pub calibrated_at: u64,
    /// Shots per circuit in the dataset.
    pub shots: u64,
    /// Circuits in the dataset.
    pub circuits: u64,
    /// Per-qubit calibration, indexed by qubit (at most `qubits` entries).
    #[serde(default)]
    pub qubit_properties: Vec<QubitProperties>,
    /// Per-gate calibration.
    #[serde(default)]
    pub gates: Vec<GateProperties>,
}

/// A number as stored: Rust's shortest text that reads back to the same `f64`.
fn number(value: f64) -> String {
    format!("{value:?}")
}

fn parse_number(key: &str, text: &str) -> Result<f64, DeviceError> {
    let ok = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    match text.parse::<f64>() {
        Ok(v) if ok && v.is_finite() => Ok(v),
        _ => refuse(format!("{key} = {text:?} is not a decimal number")),
    }
}

fn parse_int<T: std::str::FromStr>(key: &str, text: &str) -> Result<T, DeviceError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return refuse(format!("{key} = {text:?} is not a decimal integer"));
    }
    text.parse()
        .or_else(|_| refuse(format!("{key} = {text:?} is out of range")))
}

/// A probability in [0, 1].
fn check_probability(what: &str, value: Option<f64>) -> Result<(), DeviceError> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) || !v.is_finite() => {
            refuse(format!("{what} = {v} is not a probability in [0, 1]"))
        }
        _ => Ok(()),
    }
}

/// A duration in seconds: finite, not negative.
fn check_seconds(what: &str, value: Option<f64>) -> Result<(), DeviceError> {
    match value {
        Some(v) if !v.is_finite() || v < 0.0 => {
            refuse(format!("{what} = {v} is not a duration in seconds"))
        }
        _ => Ok(()),
    }
}

/// A name: ASCII letters, digits and `_`, 1 to 64 of them.
fn check_name(what: &str, name: &str) -> Result<(), DeviceError> {
    if name.is_empty()
        || name.len() > 64
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return refuse(format!(
            "{what} {name:?}: use 1 to 64 ASCII letters, digits or _"
        ));
    }
    Ok(())
}

impl DeviceProfile {
    /// Checks every field: names, counts, probabilities in [0, 1], durations not negative,
    /// qubit indices below `qubits`, each gate on distinct qubits and listed once.
    ///
    /// # Errors
    ///
    /// The first [`DeviceError`].
    pub fn validate(&self) -> Result<(), DeviceError> {
        if self.provider.trim().is_empty() || self.backend.trim().is_empty() {
            return refuse("provider and backend must be named");
        }
        if self.qubits == 0 {
            return refuse("a device has at least one qubit");
        }
        if self.qubit_properties.len() > self.qubits as usize {
            return refuse(format!(
                "{} qubit properties for {} qubits",
                self.qubit_properties.len(),
                self.qubits
            ));
        }
        for (i, q) in self.qubit_properties.iter().enumerate() {
            check_seconds(&format!("qubit {i} t1"), q.t1)?;
            check_seconds(&format!("qubit {i} t2"), q.t2)?;
            check_probability(&format!("qubit {i} readoutError"), q.readout_error)?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for g in &self.gates {
            check_name("gate", &g.name)?;
            if g.qubits.is_empty() {
                return refuse(format!("gate {} acts on no qubit", g.name));
            }
            if let Some(q) = g.qubits.iter().find(|&&q| q >= self.qubits) {
                return refuse(format!(
                    "gate {} on qubit {q} of a {}-qubit device",
                    g.name, self.qubits
                ));
            }
            let distinct: std::collections::BTreeSet<_> = g.qubits.iter().collect();
            if distinct.len() != g.qubits.len() {
                return refuse(format!("gate {} names a qubit twice", g.name));
            }
            if !seen.insert((g.name.as_str(), g.qubits.clone())) {
                return refuse(format!("gate {} on {:?} is listed twice", g.name, g.qubits));
            }
            check_probability(&format!("gate {} error", g.name), g.error)?;
            check_seconds(&format!("gate {} duration", g.name), g.duration)?;
        }
        Ok(())
    }

    /// The profile as `device.` metadata entries (validated first).
    ///
    /// # Errors
    ///
    /// [`DeviceError`] if the profile does not validate.
    pub fn to_metadata(&self) -> Result<BTreeMap<String, String>, DeviceError> {
        self.validate()?;
        let mut m = BTreeMap::new();
        let mut put = |key: String, value: String| {
            m.insert(format!("{PREFIX}{key}"), value);
        };
        put("provider".into(), self.provider.clone());
        put("backend".into(), self.backend.clone());
        put("qubits".into(), self.qubits.to_string());
        put("calibratedAt".into(), self.calibrated_at.to_string());
        put("shots".into(), self.shots.to_string());
        put("circuits".into(), self.circuits.to_string());
        for (i, q) in self.qubit_properties.iter().enumerate() {
            for (field, value) in [
                ("t1", q.t1),
                ("t2", q.t2),
                ("readoutError", q.readout_error),
            ] {
                if let Some(v) = value {
                    put(format!("qubit.{i}.{field}"), number(v));
                }
            }
        }
        for g in &self.gates {
            let qubits = g
                .qubits
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join("_");
            for (field, value) in [("error", g.error), ("duration", g.duration)] {
                if let Some(v) = value {
                    put(format!("gate.{}.{qubits}.{field}", g.name), number(v));
                }
            }
        }
        Ok(m)
    }

    /// The profile in `metadata`'s `device.` entries: `None` if it has none.
    ///
    /// # Errors
    ///
    /// [`DeviceError`] for an unknown or malformed `device.` key, a missing required one, or a
    /// profile that does not validate.
    pub fn from_metadata(metadata: &BTreeMap<String, String>) -> Result<Option<Self>, DeviceError> {
        let entries: Vec<(&str, &str)> = metadata
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(PREFIX).map(|rest| (rest, v.as_str())))
            .collect();
        if entries.is_empty() {
            return Ok(None);
        }
        let required = |name: &str| -> Result<&str, DeviceError> {
            metadata
                .get(&format!("{PREFIX}{name}"))
                .map(String::as_str)
                .ok_or_else(|| DeviceError(format!("{PREFIX}{name} is missing")))
        };
        let mut profile = Self {
            provider: required("provider")?.to_owned(),
            backend: required("backend")?.to_owned(),
            qubits: parse_int("device.qubits", required("qubits")?)?,
            calibrated_at: parse_int("device.calibratedAt", required("calibratedAt")?)?,
            shots: parse_int("device.shots", required("shots")?)?,
            circuits: parse_int("device.circuits", required("circuits")?)?,
            qubit_properties: Vec::new(),
            gates: Vec::new(),
        };
        let mut gates: BTreeMap<(String, Vec<u32>), GateProperties> = BTreeMap::new();
        for (rest, value) in entries {
            let key = format!("{PREFIX}{rest}");
            let parts: Vec<&str> = rest.split('.').collect();
            match parts.as_slice() {
                ["provider" | "backend" | "qubits" | "calibratedAt" | "shots" | "circuits"] => {}
                ["qubit", index, field] => {
                    let i: usize = parse_int(&key, index)?;
                    if i >= profile.qubits as usize {
                        return refuse(format!(
                            "{key}: qubit {i} of a {}-qubit device",
                            profile.qubits
                        ));
                    }
                    if profile.qubit_properties.len() <= i {
                        profile
                            .qubit_properties
                            .resize(i + 1, QubitProperties::default());
                    }
                    let v = Some(parse_number(&key, value)?);
                    let q = &mut profile.qubit_properties[i];
                    match *field {
                        "t1" => q.t1 = v,
                        "t2" => q.t2 = v,
                        "readoutError" => q.readout_error = v,
                        _ => return refuse(format!("{key}: unknown qubit property")),
                    }
                }
                ["gate", name, qubits, field] => {
                    let qubits: Vec<u32> = qubits
                        .split('_')
                        .map(|q| parse_int(&key, q))
                        .collect::<Result<_, _>>()?;
                    let gate = gates
                        .entry(((*name).to_owned(), qubits.clone()))
                        .or_insert_with(|| GateProperties {
                            name: (*name).to_owned(),
                            qubits,
                            error: None,
                            duration: None,
                        });
                    let v = Some(parse_number(&key, value)?);
                    match *field {
                        "error" => gate.error = v,
                        "duration" => gate.duration = v,
                        _ => return refuse(format!("{key}: unknown gate property")),
                    }
                }
                _ => return refuse(format!("{key}: not a device profile key")),
            }
        }
        profile.gates = gates.into_values().collect();
        profile.validate()?;
        Ok(Some(profile))
    }

    /// The largest error of a gate on two or more qubits, if any is given: what a catalog
    /// filters on ("two-qubit error below 0.04").
    pub fn max_multi_qubit_error(&self) -> Option<f64> {
        self.gates
            .iter()
            .filter(|g| g.qubits.len() >= 2)
            .filter_map(|g| g.error)
            .reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> DeviceProfile {
        DeviceProfile {
            provider: "ibm".into(),
            backend: "ibm_kyiv".into(),
            qubits: 3,
            calibrated_at: 1_750_000_000,
            shots: 4_000,
            circuits: 120,
            qubit_properties: vec![
                QubitProperties {
                    t1: Some(1.12e-4),
                    t2: Some(9.0e-5),
                    readout_error: Some(0.0123),
                },
                QubitProperties {
                    t1: Some(0.000_2),
                    t2: None,
                    readout_error: Some(0.02),
                },
            ],
            gates: vec![
                GateProperties {
                    name: "cx".into(),
                    qubits: vec![0, 1],
                    error: Some(0.008_1),
                    duration: Some(5.3e-7),
                },
                GateProperties {
                    name: "sx".into(),
                    qubits: vec![2],
                    error: Some(2.4e-4),
                    duration: None,
                },
            ],
        }
    }

    #[test]
    fn a_profile_round_trips_through_metadata_exactly() {
        let p = profile();
        let metadata = p.to_metadata().unwrap();
        assert_eq!(metadata["device.qubit.0.t1"], "0.000112");
        assert_eq!(metadata["device.gate.cx.0_1.error"], "0.0081");
        assert_eq!(metadata["device.calibratedAt"], "1750000000");
        let mut with_other = metadata.clone();
        with_other.insert("camera".into(), "X100".into());
        assert_eq!(
            DeviceProfile::from_metadata(&with_other).unwrap(),
            Some(p.clone())
        );
        assert_eq!(p.max_multi_qubit_error(), Some(0.0081));
        assert_eq!(
            DeviceProfile::from_metadata(&BTreeMap::new()).unwrap(),
            None
        );
    }

    /// A profile written by another language (Python's shortest float text) reads back to the
    /// same numbers after the trip through metadata (serde_json's `float_roundtrip`).
    #[test]
    fn numbers_from_json_keep_every_digit() {
        let json = r#"{"provider": "ibm", "backend": "b", "qubits": 1, "calibratedAt": 0,
            "shots": 1, "circuits": 1, "qubitProperties": [{"t1": 0.00010704205761541969}]}"#;
        let p: DeviceProfile = serde_json::from_str(json).unwrap();
        assert_eq!(p.qubit_properties[0].t1, Some(0.000_107_042_057_615_419_69));
        let back = DeviceProfile::from_metadata(&p.to_metadata().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn invalid_profiles_are_refused_both_ways() {
        let mut p = profile();
        p.gates[0].error = Some(1.5);
        assert!(p.to_metadata().unwrap_err().0.contains("probability"));
        let mut p = profile();
        p.gates[0].qubits = vec![0, 7];
        assert!(p.to_metadata().unwrap_err().0.contains("qubit 7"));
        let mut p = profile();
        p.qubit_properties[0].t1 = Some(-1.0);
        assert!(p.to_metadata().is_err());
        let mut p = profile();
        p.gates.push(p.gates[0].clone());
        assert!(p.to_metadata().unwrap_err().0.contains("twice"));

        let good = profile().to_metadata().unwrap();
        for (key, value) in [
            ("device.qubit.0.t1", "NaN"),
            ("device.qubit.0.t1", "inf"),
            ("device.qubit.0.t1", "0x10"),
            ("device.qubit.9.t1", "0.1"),
            ("device.qubit.0.colour", "0.1"),
            ("device.gate.cx.0_1.fidelity", "0.9"),
            ("device.gate.c-x.0_1.error", "0.1"),
            ("device.gate.cx.0_0.error", "0.1"),
            ("device.qubits", "-3"),
            ("device.shots", "1e3"),
            ("device.colour", "red"),
        ] {
            let mut bad = good.clone();
            bad.insert(key.into(), value.into());
            assert!(
                DeviceProfile::from_metadata(&bad).is_err(),
                "{key} = {value} should be refused"
            );
        }
        let mut missing = good;
        missing.remove("device.backend");
        assert!(DeviceProfile::from_metadata(&missing)
            .unwrap_err()
            .0
            .contains("device.backend is missing"));
    }
}
