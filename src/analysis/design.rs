//! The design of an analysis: which weights, strata and PSUs, from where
//! (none, stored with the responses, or the sampling frame), and raking to
//! population margins.

use super::load::{choice_column, choice_question, WaveData};
use super::options::{AnalysisError, IndexOptions, Weights};
use crate::db::{Database, MarginTotal};
use crate::fieldwork::wave::DEFAULT_STRATUM_QUESTION;
use crate::fieldwork::{FrameStratum, Source};
use crate::stats::{Design, DesignSpec, LonelyPsu, Margin, RakeOptions};
use serde::Serialize;
use std::collections::HashMap;

/// The population margins for `raked`: `--margins`, else the wave's stored ones.
pub(super) fn resolve_margins(
    db: &Database,
    slug: &str,
    wave: i32,
    options: &IndexOptions,
) -> Result<Option<Vec<MarginTotal>>, AnalysisError> {
    if options.weights != Weights::Raked {
        return Ok(None);
    }
    if let Some(m) = &options.margins {
        return Ok(Some(m.clone()));
    }
    let stored = db.margins(slug, wave)?;
    if stored.is_empty() {
        return Err(AnalysisError::MarginsRequired {
            slug: slug.to_string(),
            wave,
        });
    }
    Ok(Some(stored))
}

/// Where the design weights of an analysis came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DesignWeights {
    /// Weights `none`: every respondent weighs 1.
    None,
    /// The weights, strata and clusters stored with the responses
    /// (imported interviews; 1 and no strata for open-link answers).
    Stored,
    /// N_h / r_h from the wave's sampling frame, strata from the frame.
    Frame,
}

/// The design of an analysis and what the reader should know about it.
pub(super) struct DesignChoice {
    pub(super) design: Design,
    pub(super) weights_from: DesignWeights,
    pub(super) notes: Vec<String>,
}

pub(super) fn design(
    db: &Database,
    wave: &WaveData<'_>,
    slug: &str,
    options: &IndexOptions,
    totals: Option<&[MarginTotal]>,
) -> Result<DesignChoice, AnalysisError> {
    let (weights, lonely_psu) = (options.weights, options.lonely_psu);
    let data = &wave.data;
    if weights == Weights::None {
        return Ok(DesignChoice {
            design: Design::unweighted(data.len())?,
            weights_from: DesignWeights::None,
            notes: Vec::new(),
        });
    }
    let sources = &wave.selection.sources;
    let frame = if sources.contains(&Source::Import) {
        Vec::new()
    } else {
        db.frame(slug, wave.wave)?
    };
    let (design, weights_from, notes) = if sources.contains(&Source::Invited) || !frame.is_empty() {
        if frame.is_empty() {
            return Err(AnalysisError::NoFrame {
                slug: slug.to_string(),
                wave: wave.wave,
            });
        }
        let settings = db.wave(slug, wave.wave)?;
        let question = settings
            .as_ref()
            .map_or(DEFAULT_STRATUM_QUESTION, |s| s.stratum_question.as_str());
        let (design, notes) = frame_design(wave, slug, question, &frame, lonely_psu)?;
        (design, DesignWeights::Frame, notes)
    } else {
        let weights_column: Vec<Option<f64>> = data.weights.iter().map(|w| Some(*w)).collect();
        let design = Design::new(DesignSpec {
            weights: &weights_column,
            respondent_ids: None,
            strata: Some(&data.stratum),
            stratum_names: &data.strata,
            psus: Some(&data.psu),
            lonely_psu,
        })?;
        (design, DesignWeights::Stored, Vec::new())
    };
    let design = match totals {
        Some(totals) if weights == Weights::Raked => {
            let margins = build_margins(slug, totals, wave)?;
            match options.weight_bounds {
                Some(bounds) => design.rake_bounded(&margins, bounds, &RakeOptions::default())?,
                None => design.rake(&margins, &RakeOptions::default())?,
            }
        }
        _ => design,
    };
    Ok(DesignChoice {
        design,
        weights_from,
        notes,
    })
}

/// Design weights from the sampling frame (docs/statistics.md, "Invitation
/// waves"): each respondent's stratum is its invitation's, or for an
/// open-link answer its answer to the stratum question; its weight is
/// N_h / r_h, the stratum's population over the respondents analysed in
/// it; each respondent is its own PSU. This is R's
/// `svydesign(ids = ~1, strata = ~stratum, weights = ~w)`.
fn frame_design(
    wave: &WaveData<'_>,
    slug: &str,
    question: &str,
    frame: &[FrameStratum],
    lonely_psu: LonelyPsu,
) -> Result<(Design, Vec<String>), AnalysisError> {
    let data = &wave.data;
    let needs_answers = data.sources.iter().any(|s| *s != Source::Invited);
    let answers = if needs_answers {
        let q = choice_question(wave.definition, slug, question)?;
        let values: Vec<String> = q.kind.options().iter().map(|o| o.value.to_string()).collect();
        Some((choice_column(wave.definition, question, wave), values))
    } else {
        None
    };
    let frame_index: HashMap<&str, u32> = frame
        .iter()
        .enumerate()
        .map(|(k, s)| (s.stratum.as_str(), k as u32))
        .collect();
    let mut stratum = Vec::with_capacity(data.len());
    let mut unanswered = 0usize;
    let mut outside: HashMap<String, usize> = HashMap::new();
    for i in 0..data.len() {
        let name: Option<&str> = match (data.sources[i], &answers) {
            (Source::Invited, _) => Some(data.strata[data.stratum[i] as usize].as_str()),
            (_, Some((column, values))) => column[i].map(|c| values[c as usize].as_str()),
            (_, None) => None,
        };
        match name {
            None => unanswered += 1,
            Some(name) => match frame_index.get(name) {
                Some(&k) => stratum.push(k),
                None => *outside.entry(name.to_string()).or_default() += 1,
            },
        }
    }
    if unanswered > 0 {
        return Err(AnalysisError::Frame(format!(
            "{unanswered} open-link responses have no answer to {question:?}, so they have no stratum;              analyse the invited responses alone (--source invited)"
        )));
    }
    if !outside.is_empty() {
        let mut list: Vec<String> = outside.iter().map(|(s, n)| format!("{s} ({n})")).collect();
        list.sort();
        return Err(AnalysisError::Frame(format!(
            "responses in strata the frame of wave {} lacks: {}; add them to the frame              (`civicpulse frame set`) or leave those responses out",
            wave.wave,
            list.join(", ")
        )));
    }
    let mut respondents = vec![0u64; frame.len()];
    for &k in &stratum {
        respondents[k as usize] += 1;
    }
    let weights: Vec<Option<f64>> = stratum
        .iter()
        .map(|&k| Some(frame[k as usize].population / respondents[k as usize] as f64))
        .collect();
    let names: Vec<String> = frame.iter().map(|s| s.stratum.clone()).collect();
    let design = Design::new(DesignSpec {
        weights: &weights,
        respondent_ids: None,
        strata: Some(&stratum),
        stratum_names: &names,
        psus: None,
        lonely_psu,
    })?;
    let notes = frame
        .iter()
        .zip(&respondents)
        .filter(|(_, &r)| r == 0)
        .map(|(s, _)| {
            format!(
                "stratum {} of the frame has no responses: its population ({}) is not represented",
                s.stratum, s.population
            )
        })
        .collect();
    Ok((design, notes))
}

pub(super) fn build_margins(
    slug: &str,
    totals: &[MarginTotal],
    wave: &WaveData<'_>,
) -> Result<Vec<Margin>, AnalysisError> {
    margin_totals(slug, totals, wave.definition)?
        .into_iter()
        .map(|m| {
            let column = choice_column(wave.definition, &m.question, wave);
            m.margin(&column, |_| 1)
        })
        .collect()
}

/// One margin's question, its options' values and the population total
/// of each (`None`: the population lacks it).
pub(super) struct MarginSpec {
    pub(super) question: String,
    pub(super) values: Vec<String>,
    pub(super) totals: Vec<Option<f64>>,
}

/// The margins of `totals`, in their order, checked against the
/// definition: every value an option, none twice.
/// Whether `totals` can rake a wave of `definition`: every question and
/// value known, each category once (what raking would refuse later).
pub fn check_margins(
    slug: &str,
    totals: &[MarginTotal],
    definition: &crate::survey::Survey,
) -> Result<(), AnalysisError> {
    margin_totals(slug, totals, definition).map(|_| ())
}

pub(super) fn margin_totals(
    slug: &str,
    totals: &[MarginTotal],
    definition: &crate::survey::Survey,
) -> Result<Vec<MarginSpec>, AnalysisError> {
    let mut order: Vec<&str> = Vec::new();
    for t in totals {
        if !order.contains(&t.question.as_str()) {
            order.push(&t.question);
        }
    }
    let mut margins = Vec::new();
    for question in order {
        let q = choice_question(definition, slug, question).map_err(|e| match e {
            AnalysisError::UnknownBy { .. } => {
                AnalysisError::Margins(format!("{question:?} is not a question of survey {slug:?}"))
            }
            other => other,
        })?;
        let options = q.kind.options();
        let mut category_totals: Vec<Option<f64>> = vec![None; options.len()];
        for t in totals.iter().filter(|t| t.question == question) {
            match options.iter().position(|o| o.value.as_str() == t.value) {
                Some(i) if category_totals[i].is_some() => {
                    return Err(AnalysisError::Margins(format!("{question}={} appears twice", t.value)))
                }
                Some(i) => category_totals[i] = Some(t.total),
                None => {
                    return Err(AnalysisError::Margins(format!(
                        "{:?} is not an option of question {question:?} (options: {})",
                        t.value,
                        options.iter().map(|o| o.value.as_str()).collect::<Vec<_>>().join(", ")
                    )))
                }
            }
        }
        margins.push(MarginSpec {
            question: question.to_string(),
            values: options.iter().map(|o| o.value.to_string()).collect(),
            totals: category_totals,
        });
    }
    Ok(margins)
}

impl MarginSpec {
    /// The margin of respondents, or of groups of them (`respondents(k)`
    /// in entry k), from each one's option index.
    pub(super) fn margin(
        &self,
        column: &[Option<u32>],
        respondents: impl Fn(usize) -> u64,
    ) -> Result<Margin, AnalysisError> {
        let question = &self.question;
        let missing: u64 = column
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_none())
            .map(|(k, _)| respondents(k))
            .sum();
        if missing > 0 {
            return Err(AnalysisError::Margins(format!(
                "{missing} respondents have no answer to {question:?}, so they cannot be raked to its margin"
            )));
        }
        // Categories neither in the sample nor in the population play no part.
        let mut present = vec![false; self.values.len()];
        for c in column.iter().flatten() {
            present[*c as usize] = true;
        }
        let keep: Vec<usize> = (0..self.values.len())
            .filter(|&i| present[i] || self.totals[i].is_some())
            .collect();
        let new_code: HashMap<u32, u32> = keep
            .iter()
            .enumerate()
            .map(|(new, &old)| (old as u32, new as u32))
            .collect();
        Ok(Margin {
            name: question.to_string(),
            categories: keep.iter().map(|&i| self.values[i].clone()).collect(),
            codes: column.iter().map(|c| new_code[&c.expect("checked above")]).collect(),
            totals: keep.iter().map(|&i| self.totals[i]).collect(),
        })
    }
}
