//! What a statistician asks for: weights, variance method, sources,
//! exclusions, margins; and the errors an analysis can end in.

use crate::db::MarginTotal;
use crate::fieldwork::wave::UnknownSource;
use crate::fieldwork::{Flags, Source};
use crate::stats::{self, LonelyPsu, WeightBounds};
use serde::Serialize;
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Weights {
    None,
    Design,
    Raked,
}

impl std::str::FromStr for Weights {
    type Err = AnalysisError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Weights::None),
            "design" => Ok(Weights::Design),
            "raked" => Ok(Weights::Raked),
            _ => Err(AnalysisError::Option(format!(
                "weights must be none, design or raked, not {s:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variance {
    Linearized,
    Bootstrap { replicates: usize, seed: u64 },
}

/// The most bootstrap replicates anyone may ask for: far past where more
/// replicates change a standard error (docs/statistics.md §5), and a
/// bound on what one request may cost (time and memory grow with it).
pub const MAX_REPLICATES: usize = 5_000;

impl Variance {
    /// Bootstrap variance with `replicates` replicates, 1 to
    /// [`MAX_REPLICATES`].
    pub fn bootstrap(replicates: usize, seed: u64) -> Result<Variance, AnalysisError> {
        if !(1..=MAX_REPLICATES).contains(&replicates) {
            return Err(AnalysisError::Option(format!(
                "replicates must be between 1 and {MAX_REPLICATES}, not {replicates}"
            )));
        }
        Ok(Variance::Bootstrap { replicates, seed })
    }
}

/// What a statistician asks for (CLI flags and API query parameters).
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Survey wave; default: the latest wave with responses.
    pub wave: Option<i32>,
    /// Group by the answers to this question.
    pub by: Option<String>,
    pub weights: Weights,
    /// Population margins; default for `raked`: those stored for the wave.
    pub margins: Option<Vec<MarginTotal>>,
    pub level: f64,
    pub min_cell: u64,
    pub variance: Variance,
    /// Which responses to use; default: the wave's probability sample
    /// (see [`super::load::default_sources`]).
    pub sources: Option<SourceChoice>,
    /// Leave out responses carrying any of these flags.
    pub exclude_flagged: Flags,
    /// How strata with a single PSU count.
    pub lonely_psu: LonelyPsu,
    /// Also the answer distribution of every choice question.
    pub distributions: bool,
    /// Raking within these multiples of the design weights (bounded
    /// raking); only with weights `raked`.
    pub weight_bounds: Option<WeightBounds>,
}

impl IndexOptions {
    /// Everything that decides the report, as one canonical string: two
    /// option sets with the same key compute the same report from the same
    /// data (the key of cached results). Every field is named here, so a
    /// new option cannot be forgotten.
    pub fn canonical_key(&self) -> String {
        let IndexOptions {
            wave,
            by,
            weights,
            margins,
            level,
            min_cell,
            variance,
            sources,
            exclude_flagged,
            lonely_psu,
            distributions,
            weight_bounds,
        } = self;
        // `{:?}` quotes and escapes strings, and writes a float so that it
        // reads back to the same number: 0.95 and 0.950 are one key.
        let mut key = format!(
            "wave={wave:?};by={by:?};weights={weights:?};level={level:?};min_cell={min_cell};\
             variance={variance:?};lonely_psu={lonely_psu:?};distributions={distributions}"
        );
        if let Some(choice) = sources {
            key.push_str(&format!(";sources={:?};batches={:?}", choice.sources, choice.batches));
        }
        if !exclude_flagged.is_empty() {
            let flags: Vec<_> = exclude_flagged.iter().collect();
            key.push_str(&format!(";exclude={flags:?}"));
        }
        if let Some(bounds) = weight_bounds {
            key.push_str(&format!(";bounds={:?},{:?}", bounds.lower, bounds.upper));
        }
        if let Some(margins) = margins {
            key.push_str(";margins=");
            for m in margins {
                key.push_str(&format!("{:?}={:?}:{:?},", m.question, m.value, m.total));
            }
        }
        key
    }
}

/// Parse `L,U`: raked weights stay within L and U times the design weights.
pub fn parse_weight_bounds(s: &str) -> Result<WeightBounds, AnalysisError> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let number = |p: &str| p.parse::<f64>().ok().filter(|x| x.is_finite());
    match parts.as_slice() {
        [lower, upper] => match (number(lower), number(upper)) {
            (Some(lower), Some(upper)) => WeightBounds::new(lower, upper).map_err(|e| AnalysisError::Option(e.to_string())),
            _ => Err(AnalysisError::Option(format!("weight bounds must be two numbers L,U, not {s:?}"))),
        },
        _ => Err(AnalysisError::Option(format!(
            "weight bounds are two numbers L,U (e.g. 0.5,2: each raked weight between half and twice its design weight), not {s:?}"
        ))),
    }
}

/// Parse `fail|remove|certainty|adjust|average`.
pub fn parse_lonely_psu(s: &str) -> Result<LonelyPsu, AnalysisError> {
    match s.trim() {
        "fail" => Ok(LonelyPsu::Fail),
        "remove" => Ok(LonelyPsu::Remove),
        "certainty" => Ok(LonelyPsu::Certainty),
        "adjust" => Ok(LonelyPsu::Adjust),
        "average" => Ok(LonelyPsu::Average),
        other => Err(AnalysisError::Option(format!(
            "lonely PSUs are treated by fail, remove, certainty, adjust or average, not {other:?}"
        ))),
    }
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            wave: None,
            by: None,
            weights: Weights::Design,
            margins: None,
            level: 0.95,
            min_cell: 10,
            variance: Variance::Linearized,
            sources: None,
            exclude_flagged: Flags::default(),
            lonely_psu: LonelyPsu::Fail,
            distributions: false,
            weight_bounds: None,
        }
    }
}

/// Which responses of a wave an analysis uses: by the way they came in,
/// and for imported interviews optionally by batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceChoice {
    /// Each source once, in a fixed order.
    pub sources: Vec<Source>,
    /// Import batches by name or id (`import:NAME`); empty: every batch.
    pub batches: Vec<String>,
}

/// Parse `web,invited` or `import:spring,import:autumn` (import batches by
/// name or id) into sources.
pub fn parse_sources(list: &str) -> Result<SourceChoice, AnalysisError> {
    let mut choice = SourceChoice {
        sources: Vec::new(),
        batches: Vec::new(),
    };
    for part in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, batch) = match part.split_once(':') {
            Some((name, batch)) => (name, Some(batch.trim())),
            None => (part, None),
        };
        let source: Source = name
            .parse()
            .map_err(|e: UnknownSource| AnalysisError::Option(e.to_string()))?;
        match batch {
            Some(_) if source != Source::Import => {
                return Err(AnalysisError::Option(format!(
                    "only imports come in batches: {part:?} names a batch of {name}"
                )))
            }
            Some("") => return Err(AnalysisError::Option(format!("{part:?}: name the batch after import:"))),
            Some(batch) if !choice.batches.iter().any(|b| b == batch) => choice.batches.push(batch.to_string()),
            _ => {}
        }
        if !choice.sources.contains(&source) {
            choice.sources.push(source);
        }
    }
    if choice.sources.is_empty() {
        return Err(AnalysisError::Option(
            "name at least one source: web, invited or import (import:BATCH for one batch)".into(),
        ));
    }
    choice.sources.sort();
    Ok(choice)
}

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("no survey named {0:?}")]
    UnknownSurvey(String),
    #[error("survey {slug:?} has no responses{}", wave.map(|w| format!(" in wave {w}")).unwrap_or_default())]
    NoResponses { slug: String, wave: Option<i32> },
    #[error("--by {question:?}: survey {slug:?} has no such question; questions to group by: {choices}")]
    UnknownBy {
        slug: String,
        question: String,
        choices: String,
    },
    #[error("--by {0:?}: only single-choice, Likert and rating questions can define groups")]
    ByNotChoice(String),
    #[error(
        "weights raked need population margins: give --margins FILE.csv (rows question,value,total) \
         or store them with `civicpulse margins set {slug} FILE.csv --wave {wave}`"
    )]
    MarginsRequired { slug: String, wave: i32 },
    #[error("margins: {0}")]
    Margins(String),
    #[error("{0}")]
    Option(String),
    #[error(
        "wave {wave} of {slug:?} has invited responses but no sampling frame, so they have no design weights; \
         store the frame with `civicpulse frame set {slug} FILE.csv --wave {wave}`"
    )]
    NoFrame { slug: String, wave: i32 },
    #[error("design weights: {0}")]
    Frame(String),
    #[error(transparent)]
    Stats(#[from] stats::StatsError),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
}

/// Read a margins file: a header `question,value,total`, then one row per
/// population category. Errors name the row.
pub fn parse_margins(name: &str, reader: impl Read) -> Result<Vec<MarginTotal>, AnalysisError> {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| AnalysisError::Margins(format!("{name}: {e}")))?
        .clone();
    let names: Vec<&str> = headers
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}'))
        .collect();
    if names != ["question", "value", "total"] {
        return Err(AnalysisError::Margins(format!(
            "{name}: the header must be question,value,total, not {}",
            names.join(",")
        )));
    }
    let mut out = Vec::new();
    for (i, record) in csv.records().enumerate() {
        let row = i + 2;
        let record = record.map_err(|e| AnalysisError::Margins(format!("{name}: row {row}: {e}")))?;
        let total: f64 = record[2].trim().parse().map_err(|_| {
            AnalysisError::Margins(format!("{name}: row {row}: total {:?} is not a number", &record[2]))
        })?;
        if !(total.is_finite() && total > 0.0) {
            return Err(AnalysisError::Margins(format!(
                "{name}: row {row}: total must be positive, not {total}"
            )));
        }
        out.push(MarginTotal {
            question: record[0].trim().to_string(),
            value: record[1].trim().to_string(),
            total,
        });
    }
    if out.is_empty() {
        return Err(AnalysisError::Margins(format!("{name}: no margins in the file")));
    }
    Ok(out)
}
