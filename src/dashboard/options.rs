//! What an official chooses on the dashboard: the wave, the weights, the
//! sources, the group-by question, the confidence level and the
//! data-quality exclusions. Read from a query string, written back into
//! one (the download links, the report link), and turned into the
//! analysis options the engine takes.

use crate::analysis::{parse_sources, IndexOptions, SourceChoice, Weights};
use crate::fieldwork::{Flag, Flags, Source};
use std::fmt::Write;

/// The confidence levels offered; any other is refused, so every figure
/// on a page is one a statistician chose from a short, sane list.
pub const LEVELS: [f64; 3] = [0.90, 0.95, 0.99];

#[derive(Debug, Clone, PartialEq)]
pub struct DashboardOptions {
    /// Default: the latest wave with responses.
    pub wave: Option<i32>,
    pub weights: Weights,
    /// Default: the wave's probability sample (as the analysis chooses).
    pub sources: Option<Vec<Source>>,
    /// The question districts are answers of; default `district`.
    pub by: Option<String>,
    pub level: f64,
    pub exclude: Flags,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        DashboardOptions {
            wave: None,
            weights: Weights::Design,
            sources: None,
            by: None,
            level: 0.95,
            exclude: Flags::default(),
        }
    }
}

/// A query value the dashboard cannot use; the message names the field
/// and what it takes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OptionError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> OptionError {
    OptionError {
        field,
        message: message.into(),
    }
}

impl DashboardOptions {
    /// Read the options from decoded query pairs. Fields the dashboard
    /// does not know (`lang`, a download's own) are left to the caller.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<DashboardOptions, OptionError> {
        let mut options = DashboardOptions::default();
        let mut sources: Vec<Source> = Vec::new();
        for (key, value) in pairs {
            let value = value.trim();
            match key.as_str() {
                "wave" if !value.is_empty() => {
                    options.wave = Some(
                        value
                            .parse()
                            .map_err(|_| refuse("wave", format!("{value:?} is not a year")))?,
                    )
                }
                "weights" => options.weights = value.parse().map_err(|_| refuse("weights", "none, design or raked"))?,
                "source" => {
                    let choice: SourceChoice = parse_sources(value).map_err(|e| refuse("source", e.to_string()))?;
                    sources.extend(choice.sources);
                }
                "by" if !value.is_empty() => options.by = Some(value.to_string()),
                "level" => {
                    let level: f64 = value.parse().map_err(|_| refuse("level", "0.90, 0.95 or 0.99"))?;
                    options.level = *LEVELS
                        .iter()
                        .find(|l| (**l - level).abs() < 1e-9)
                        .ok_or_else(|| refuse("level", "0.90, 0.95 or 0.99"))?;
                }
                "exclude" => {
                    let flag: Flag = value
                        .parse()
                        .map_err(|_| refuse("exclude", "speeder, straightliner or burst"))?;
                    options.exclude = options.exclude.with(flag);
                }
                _ => {}
            }
        }
        if !sources.is_empty() {
            sources.sort();
            sources.dedup();
            options.sources = Some(sources);
        }
        Ok(options)
    }

    /// The group-by question used: the one asked for, else `district`.
    pub fn by(&self) -> &str {
        self.by
            .as_deref()
            .unwrap_or(crate::fieldwork::wave::DEFAULT_STRATUM_QUESTION)
    }

    /// These options as a query string (without `?`), every field spelled
    /// out, so a download or a report shows exactly the figures on screen.
    pub fn query(&self, wave: i32) -> String {
        let mut q = format!("wave={wave}&weights={}", weights_name(self.weights));
        if let Some(sources) = &self.sources {
            for s in sources {
                let _ = write!(q, "&source={}", s.as_str());
            }
        }
        // A question id ([a-z0-9_]); only a dashboard that was built, so
        // whose group-by question exists, writes its query.
        let _ = write!(q, "&by={}", self.by());
        let _ = write!(q, "&level={}", self.level);
        for flag in self.exclude.iter() {
            let _ = write!(q, "&exclude={}", flag.as_str());
        }
        q
    }

    /// The engine's options for `wave`, grouped by [`Self::by`].
    pub fn index_options(&self, wave: i32, min_cell: u64) -> IndexOptions {
        IndexOptions {
            wave: Some(wave),
            by: Some(self.by().to_string()),
            weights: self.weights,
            level: self.level,
            min_cell,
            sources: self.sources.clone().map(|sources| SourceChoice {
                sources,
                batches: Vec::new(),
            }),
            exclude_flagged: self.exclude,
            ..IndexOptions::default()
        }
    }
}

pub fn weights_name(weights: Weights) -> &'static str {
    match weights {
        Weights::None => "none",
        Weights::Design => "design",
        Weights::Raked => "raked",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_query_reads_back_to_the_same_options() {
        let options = DashboardOptions::from_pairs(&pairs(&[
            ("wave", "2026"),
            ("weights", "raked"),
            ("source", "web"),
            ("source", "invited"),
            ("by", "age_group"),
            ("level", "0.9"),
            ("exclude", "speeder"),
            ("lang", "ko"),
        ]))
        .unwrap();
        assert_eq!(options.wave, Some(2026));
        assert_eq!(options.sources, Some(vec![Source::Web, Source::Invited]));
        let query = options.query(2026);
        let again: Vec<(String, String)> = crate::web::form::parse_urlencoded(query.as_bytes()).unwrap();
        assert_eq!(DashboardOptions::from_pairs(&again).unwrap(), options);
    }

    #[test]
    fn values_off_the_lists_are_refused_by_field() {
        for (key, value) in [
            ("level", "0.5"),
            ("weights", "heavy"),
            ("source", "mail"),
            ("exclude", "liar"),
            ("wave", "last"),
        ] {
            let e = DashboardOptions::from_pairs(&pairs(&[(key, value)])).unwrap_err();
            assert_eq!(e.field, key, "{e}");
        }
    }
}
