//! License templates: the four standard kinds of terms with flags that fit them
//! (docs/protocol.md §2).

use alloy::primitives::{
    aliases::{U40, U96},
    Address,
};
use clap::ValueEnum;
use fairtrain_protocol::{bindings::License, pricing::Unit};
use serde::Serialize;

/// `License.Kind` values.
pub mod kind {
    /// Research only: no commercial use.
    pub const RESEARCH_ONLY: u8 = 0;
    /// Commercial use allowed.
    pub const COMMERCIAL: u8 = 1;
    /// Evaluation only: no commercial use.
    pub const EVALUATION: u8 = 2;
    /// Attribution, share-alike derivatives.
    pub const ATTRIBUTION_SHARE_ALIKE: u8 = 3;
    /// Custom terms (need a URI).
    pub const CUSTOM: u8 = 4;
}

/// `License.Derivatives` values.
pub mod derivatives {
    /// Derived works may not be distributed.
    pub const NOT_ALLOWED: u8 = 0;
    /// Derived works may be distributed.
    pub const ALLOWED: u8 = 1;
    /// Derived works must carry the same terms.
    pub const SHARE_ALIKE: u8 = 2;
}

/// A license template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Template {
    /// Training for research only; no commercial use of the models; attribution; no derived
    /// datasets.
    Research,
    /// Commercial use of the models allowed; derived works allowed; no attribution required.
    Commercial,
    /// Evaluation and benchmarking only; no commercial use; no derived works.
    Evaluation,
    /// Commercial use allowed with attribution; derived works under the same terms.
    AttributionShareAlike,
}

/// The flags of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flags {
    /// `License.Kind`.
    pub kind: u8,
    /// Commercial use of models allowed.
    pub commercial_use: bool,
    /// Attribution required.
    pub attribution_required: bool,
    /// `License.Derivatives`.
    pub derivatives: u8,
}

impl Template {
    /// Every template, in order.
    pub const ALL: [Self; 4] = [
        Self::Research,
        Self::Commercial,
        Self::Evaluation,
        Self::AttributionShareAlike,
    ];

    /// The name on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Research => "research",
            Self::Commercial => "commercial",
            Self::Evaluation => "evaluation",
            Self::AttributionShareAlike => "attribution-share-alike",
        }
    }

    /// One line on what it allows.
    pub const fn summary(self) -> &'static str {
        match self {
            Self::Research => "research only: no commercial use of trained models; attribution required; no derivatives",
            Self::Commercial => "commercial use of trained models allowed; derivatives allowed; no attribution required",
            Self::Evaluation => "evaluation and benchmarking only: no commercial use; no derivatives",
            Self::AttributionShareAlike => "commercial use allowed with attribution; derivatives under the same terms",
        }
    }

    /// Its flags.
    pub const fn flags(self) -> Flags {
        match self {
            Self::Research => Flags {
                kind: kind::RESEARCH_ONLY,
                commercial_use: false,
                attribution_required: true,
                derivatives: derivatives::NOT_ALLOWED,
            },
            Self::Commercial => Flags {
                kind: kind::COMMERCIAL,
                commercial_use: true,
                attribution_required: false,
                derivatives: derivatives::ALLOWED,
            },
            Self::Evaluation => Flags {
                kind: kind::EVALUATION,
                commercial_use: false,
                attribution_required: false,
                derivatives: derivatives::NOT_ALLOWED,
            },
            Self::AttributionShareAlike => Flags {
                kind: kind::ATTRIBUTION_SHARE_ALIKE,
                commercial_use: true,
                attribution_required: true,
                derivatives: derivatives::SHARE_ALIKE,
            },
        }
    }

    /// Terms of this template.
    pub fn terms(self, economics: Economics) -> License::Terms {
        let flags = self.flags();
        License::Terms {
            kind: flags.kind,
            paymentToken: economics.token,
            pricePerSample: economics.price_per_sample,
            unit: economics.unit.value(),
            maxSamples: economics.max_samples,
            expiresAt: U40::from(economics.expires_at),
            commercialUse: flags.commercial_use,
            attributionRequired: flags.attribution_required,
            derivatives: flags.derivatives,
            exclusiveLicensee: economics.exclusive_licensee,
            uri: economics.uri,
        }
    }
}

/// What the creator chooses besides the template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Economics {
    /// Payment token.
    pub token: Address,
    /// Base units per unit.
    pub price_per_sample: U96,
    /// What the price is paid per.
    pub unit: Unit,
    /// Cap per licensee (0: none).
    pub max_samples: u64,
    /// Unix expiry (0: never).
    pub expires_at: u64,
    /// Only payer that may accept (zero: anyone).
    pub exclusive_licensee: Address,
    /// Human-readable terms.
    pub uri: String,
}

/// The name of a `License.Kind`.
pub const fn kind_name(kind: u8) -> &'static str {
    match kind {
        kind::RESEARCH_ONLY => "research-only",
        kind::COMMERCIAL => "commercial",
        kind::EVALUATION => "evaluation",
        kind::ATTRIBUTION_SHARE_ALIKE => "attribution-share-alike",
        kind::CUSTOM => "custom",
        _ => "unknown",
    }
}

/// The name of a `License.Derivatives`.
pub const fn derivatives_name(value: u8) -> &'static str {
    match value {
        derivatives::NOT_ALLOWED => "not allowed",
        derivatives::ALLOWED => "allowed",
        derivatives::SHARE_ALIKE => "share-alike",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule of `LicenseNFT._checkTerms`, restated.
    fn consistent(f: Flags) -> bool {
        match f.kind {
            kind::RESEARCH_ONLY | kind::EVALUATION => !f.commercial_use,
            kind::COMMERCIAL => f.commercial_use,
            kind::ATTRIBUTION_SHARE_ALIKE => {
                f.attribution_required && f.derivatives == derivatives::SHARE_ALIKE
            }
            _ => false,
        }
    }

    #[test]
    fn every_template_fits_its_kind() {
        for t in Template::ALL {
            assert!(consistent(t.flags()), "{t:?}");
            assert_eq!(Template::from_str(t.name(), false).unwrap(), t);
            assert_ne!(kind_name(t.flags().kind), "unknown");
        }
    }
}
