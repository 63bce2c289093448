//! What every published figure says, whatever the table: its value with
//! its precision ([`Figure`]), and whether it is published and what a
//! reader should know ([`Status`]). Serialised flat into each row.

use crate::stats::Estimate;
use serde::Serialize;

/// A value with its standard error, interval, design effect and CV.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Figure {
    pub estimate: Option<f64>,
    pub se: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Design effect (R's default: against simple random sampling without
    /// replacement from the domain's estimated population).
    pub deff: Option<f64>,
    /// Coefficient of variation, SE / |estimate|.
    pub cv: Option<f64>,
}

impl From<&Estimate> for Figure {
    fn from(e: &Estimate) -> Figure {
        Figure {
            estimate: e.estimate,
            se: e.se,
            ci_low: e.ci_low,
            ci_high: e.ci_high,
            deff: e.deff,
            cv: e.cv,
        }
    }
}

/// Whether a figure is published, and why not or with what caution.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Status {
    pub suppressed: bool,
    pub low_precision: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl From<&Estimate> for Status {
    fn from(e: &Estimate) -> Status {
        Status {
            suppressed: e.suppressed,
            low_precision: e.low_precision,
            note: e.ci_unavailable.map(|c| c.to_string()),
        }
    }
}

impl Status {
    /// Withheld to protect another cell (docs/statistics.md §6.2).
    pub(super) fn withheld(note: &str) -> Status {
        Status {
            suppressed: true,
            low_precision: false,
            note: Some(note.into()),
        }
    }
}
