//! Answer distributions: for every choice question, the weighted share of
//! each option ("don't know" and "does not apply" included, each its own
//! answer) among those who answered, overall
//! and per group (docs/statistics.md §4.4). What a yearly report tabulates
//! beside the indices.

use super::figure::{Figure, Status};
use super::load::{choice_column, WaveData};
use super::options::AnalysisError;
use crate::stats::Cell;
use crate::stats::{CodedAnswers, Estimate};
use crate::survey::{Missing, QuestionKind};
use serde::Serialize;

/// One option's share in one domain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DistributionRow {
    pub question: String,
    pub group: Option<String>,
    /// The option's value, as stored and as in CSV exports.
    pub option: String,
    /// For "don't know" and "does not apply": which of them the option is.
    /// Such an answer has its own share, like any other answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Missing>,
    /// Respondents of the domain who answered the question.
    pub n: u64,
    /// Respondents of the domain who chose this option (withheld with the share).
    pub count: Option<u64>,
    pub df: u64,
    /// The share (0–1) and its precision.
    #[serde(flatten)]
    pub figure: Figure,
    #[serde(flatten)]
    pub status: Status,
}

impl DistributionRow {
    pub(super) fn new(
        question: &str,
        group: Option<String>,
        option: &(String, Option<Missing>),
        count: u64,
        e: &Estimate,
    ) -> Self {
        DistributionRow {
            question: question.to_string(),
            group,
            option: option.0.clone(),
            missing: option.1,
            n: e.n,
            count: (!e.suppressed).then_some(count),
            df: e.df,
            figure: e.into(),
            status: e.into(),
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
        self.status.suppressed
    }
    fn withhold(&mut self, note: &str) {
        self.count = None;
        self.figure = Figure::default();
        self.status = Status::withheld(note);
    }
}

/// A choice question's answers as codes (0: no answer, k: the k-th option
/// of the wave's definition, matched by value across versions), with its
/// option values and which of them are missing answers.
pub(super) struct Answers {
    pub(super) id: String,
    pub(super) codes: Vec<u8>,
    pub(super) values: Vec<(String, Option<Missing>)>,
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
/// The questions of a definition that have a distribution (§4.4).
pub(super) fn distribution_questions(
    definition: &crate::survey::Survey,
) -> impl Iterator<Item = &crate::survey::Question> {
    definition.questions.iter().filter(|q| {
        matches!(
            q.kind,
            QuestionKind::SingleChoice { .. } | QuestionKind::Likert { .. } | QuestionKind::Rating { .. }
        )
    })
}

/// Published distribution rows from the engine's shares, small cells
/// withheld and protected (§6.2). `option(question, k)`: the value and
/// kind of missing answer of a question's k-th option.
pub(super) fn distribution_rows(
    shares: &[crate::stats::OptionShare],
    option: impl Fn(&str, usize) -> (String, Option<Missing>),
    group_name: impl Fn(Option<u32>) -> Option<String>,
) -> Vec<DistributionRow> {
    let mut rows: Vec<DistributionRow> = shares
        .iter()
        .map(|s| DistributionRow::new(&s.id, group_name(s.group), &option(&s.id, s.option), s.count, &s.share))
        .collect();
    crate::stats::protect_suppressed_cells(&mut rows, |r| (r.question.clone(), r.option.clone()));
    rows
}

pub(super) fn answers(wave: &WaveData<'_>) -> Result<Vec<Answers>, AnalysisError> {
    distribution_questions(wave.definition)
        .map(|q| {
            let values: Vec<(String, Option<Missing>)> = q
                .kind
                .options()
                .iter()
                .map(|o| (o.value.to_string(), o.missing))
                .collect();
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
