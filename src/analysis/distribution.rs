//! Answer distributions: for every choice question, the weighted share of
//! each option ("don't know" included) among those who answered, overall
//! and per group (docs/statistics.md §4.4). What a yearly report tabulates
//! beside the indices.

use super::load::{choice_column, WaveData};
use super::options::AnalysisError;
use super::suppression::Cell;
use crate::stats::{CodedAnswers, Estimate};
use crate::survey::QuestionKind;
use serde::Serialize;

/// One option's share in one domain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DistributionRow {
    pub question: String,
    pub group: Option<String>,
    /// The option's value, as stored and as in CSV exports.
    pub option: String,
    /// Respondents of the domain who answered the question.
    pub n: u64,
    /// Respondents of the domain who chose this option (withheld with the share).
    pub count: Option<u64>,
    pub share: Option<f64>,
    pub se: Option<f64>,
    pub df: u64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub deff: Option<f64>,
    pub cv: Option<f64>,
    pub suppressed: bool,
    pub low_precision: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl DistributionRow {
    pub(super) fn new(question: &str, group: Option<String>, option: &str, count: u64, e: &Estimate) -> Self {
        DistributionRow {
            question: question.to_string(),
            group,
            option: option.to_string(),
            n: e.n,
            count: (!e.suppressed).then_some(count),
            share: e.estimate,
            se: e.se,
            df: e.df,
            ci_low: e.ci_low,
            ci_high: e.ci_high,
            deff: e.deff,
            cv: e.cv,
            suppressed: e.suppressed,
            low_precision: e.low_precision,
            note: e.ci_unavailable.map(|c| c.to_string()),
        }
    }
}

impl Cell for DistributionRow {
    fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }
    fn n(&self) -> u64 {
        self.n
    }
    fn suppressed(&self) -> bool {
        self.suppressed
    }
    fn withhold(&mut self, note: &str) {
        *self = DistributionRow {
            question: std::mem::take(&mut self.question),
            group: self.group.take(),
            option: std::mem::take(&mut self.option),
            n: self.n,
            count: None,
            share: None,
            se: None,
            df: self.df,
            ci_low: None,
            ci_high: None,
            deff: None,
            cv: None,
            suppressed: true,
            low_precision: false,
            note: Some(note.into()),
        };
    }
}

/// A choice question's answers as codes (0: no answer, k: the k-th option
/// of the wave's definition, matched by value across versions), with its
/// option values.
pub(super) struct Answers {
    pub(super) id: String,
    pub(super) codes: Vec<u8>,
    pub(super) values: Vec<String>,
}

impl Answers {
    pub(super) fn coded(&self) -> CodedAnswers<'_> {
        CodedAnswers {
            id: &self.id,
            codes: &self.codes,
            options: self.values.len(),
        }
    }
}

/// Every single-choice, Likert and rating question of the wave's definition.
pub(super) fn answers(wave: &WaveData<'_>) -> Result<Vec<Answers>, AnalysisError> {
    wave.definition
        .questions
        .iter()
        .filter(|q| {
            matches!(
                q.kind,
                QuestionKind::SingleChoice { .. } | QuestionKind::Likert { .. } | QuestionKind::Rating { .. }
            )
        })
        .map(|q| {
            let values: Vec<String> = q.kind.options().iter().map(|o| o.value.to_string()).collect();
            if values.len() >= u8::MAX as usize {
                return Err(AnalysisError::Option(format!(
                    "question {} has {} options; distributions take at most 254",
                    q.id,
                    values.len()
                )));
            }
            let codes = choice_column(wave.definition, q.id.as_str(), wave)
                .into_iter()
                .map(|c| c.map_or(0, |k| k as u8 + 1))
                .collect();
            Ok(Answers {
                id: q.id.to_string(),
                codes,
                values,
            })
        })
        .collect()
}
