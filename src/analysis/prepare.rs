//! Turning a wave's option codes into the engine's respondent-level
//! variables: item scores and top-two-box flags (questions matched by id
//! across versions), dimension scores and the overall score.

use super::load::WaveData;
use super::AnalysisError;
use crate::stats::{self, DimensionSpec, Level};
use crate::survey::Survey;

/// The respondent-level variables of one wave, ready for the engine.
pub(super) struct Prepared {
    pub(super) n: usize,
    pub(super) items: Vec<PreparedItem>,
    pub(super) dimensions: Vec<(String, Vec<f64>)>,
    pub(super) overall: Vec<f64>,
}

/// An item as codes into a table of its distinct (score, top-two) values,
/// the same across versions, plus its score column for the composites.
pub(super) struct PreparedItem {
    pub(super) id: String,
    codes: Vec<u8>,
    score_by_code: Vec<Option<f64>>,
    top_by_code: Vec<Option<bool>>,
}

impl PreparedItem {
    /// Score column (`NaN` = missing), for the estimators that want columns.
    pub(super) fn score_column(&self) -> Vec<f64> {
        self.codes
            .iter()
            .map(|&c| self.score_by_code[c as usize].unwrap_or(f64::NAN))
            .collect()
    }

    pub(super) fn top_column(&self) -> Vec<Option<bool>> {
        self.codes.iter().map(|&c| self.top_by_code[c as usize]).collect()
    }

    pub(super) fn coded(&self) -> stats::CodedItem<'_> {
        stats::CodedItem {
            id: &self.id,
            codes: &self.codes,
            score_by_code: &self.score_by_code,
            top_by_code: &self.top_by_code,
        }
    }
}

pub(super) fn level_name(level: Level) -> &'static str {
    match level {
        Level::Overall => "overall",
        Level::Dimension => "dimension",
        Level::Item => "item",
    }
}

/// Per stored version: where each analysis item sits in its codes, and the
/// score and top-two flag of each code.
pub(super) struct VersionMap {
    /// Per analysis item, `None` when this version lacks the question.
    pub(super) items: Vec<Option<ItemCoding>>,
}

/// Where an item sits in a version's codes, and what each code means.
pub(super) struct ItemCoding {
    pub(super) position: usize,
    pub(super) score_by_code: Vec<Option<f64>>,
    pub(super) top_by_code: Vec<Option<bool>>,
}

pub(super) fn version_map(survey: &Survey, item_ids: &[&str]) -> VersionMap {
    let items = item_ids
        .iter()
        .map(|id| {
            let pos = survey.question_index(id)?;
            let options = survey.questions[pos].kind.options();
            let scores: Vec<Option<f64>> = options.iter().map(|o| o.score).collect();
            let top = stats::top_two_options(&scores);
            // Code 0 is "no answer"; option i has code i + 1.
            let by_code_score = std::iter::once(None).chain(scores.iter().copied()).collect();
            let by_code_top = std::iter::once(None)
                .chain(scores.iter().zip(&top).map(|(s, t)| s.map(|_| *t)))
                .collect();
            Some(ItemCoding {
                position: pos,
                score_by_code: by_code_score,
                top_by_code: by_code_top,
            })
        })
        .collect();
    VersionMap { items }
}

/// Scored questions of the wave's definition, in order: the items.
pub(super) fn analysis_items(survey: &Survey) -> Vec<&str> {
    survey
        .questions
        .iter()
        .filter(|q| q.is_scored())
        .map(|q| q.id.as_str())
        .collect()
}

pub(super) fn prepare(wave: &WaveData<'_>) -> Result<Prepared, AnalysisError> {
    let definition = wave.definition;
    let data = &wave.data;
    let item_ids = analysis_items(definition);
    let maps: Vec<VersionMap> = wave.slot_versions.iter().map(|s| version_map(s, &item_ids)).collect();
    let n = data.len();
    // Item-major, one item per task, two threads: each task streams the
    // codes once and writes its columns sequentially.
    let build = |j: usize| -> PreparedItem {
        // Unified codes: the distinct (score, top-two) values of the item
        // over all versions, 0 = no value; per version, its code → unified.
        let mut table: Vec<(Option<f64>, Option<bool>)> = vec![(None, None)];
        let per_version: Vec<Option<(usize, Vec<u8>)>> = maps
            .iter()
            .map(|m| {
                let coding = m.items[j].as_ref()?;
                let to_unified = coding
                    .score_by_code
                    .iter()
                    .zip(&coding.top_by_code)
                    .map(|(s, t)| {
                        let value = (*s, *t);
                        if s.is_none() {
                            return 0;
                        }
                        match table.iter().position(|v| *v == value) {
                            Some(k) => k as u8,
                            None => {
                                table.push(value);
                                (table.len() - 1) as u8
                            }
                        }
                    })
                    .collect();
                Some((coding.position, to_unified))
            })
            .collect();
        let score_by_code: Vec<Option<f64>> = table.iter().map(|v| v.0).collect();
        let mut codes = Vec::with_capacity(n);
        for (i, &v) in wave.slots.iter().enumerate() {
            let code = match &per_version[v as usize] {
                Some((position, to_unified)) => {
                    let raw = data.codes[data.code_offsets[i] + position] as usize;
                    to_unified.get(raw).copied().unwrap_or(0)
                }
                None => 0,
            };
            codes.push(code);
        }
        PreparedItem {
            id: item_ids[j].to_string(),
            codes,
            top_by_code: table.iter().map(|v| v.1).collect(),
            score_by_code,
        }
    };
    let mut built: Vec<Option<PreparedItem>> = (0..item_ids.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let (even, odd): (Vec<_>, Vec<_>) = built.iter_mut().enumerate().partition(|(j, _)| j % 2 == 0);
        let build = &build;
        scope.spawn(move || odd.into_iter().for_each(|(j, slot)| *slot = Some(build(j))));
        even.into_iter().for_each(|(j, slot)| *slot = Some(build(j)));
    });
    let items: Vec<PreparedItem> = built.into_iter().map(|b| b.expect("every item built")).collect();
    let specs: Vec<DimensionSpec> = definition
        .dimensions
        .iter()
        .enumerate()
        .map(|(d, dim)| DimensionSpec {
            id: dim.id.to_string(),
            weight: dim.weight,
            in_overall: dim.in_overall,
            items: item_ids
                .iter()
                .enumerate()
                .filter_map(|(j, id)| {
                    let q = definition.question(id)?;
                    (q.dimension == Some(d)).then_some((j, q.weight))
                })
                .collect(),
        })
        .collect();
    let coded: Vec<stats::CodedItem<'_>> = items.iter().map(PreparedItem::coded).collect();
    let composites = stats::composites_coded(&coded, &specs)?;
    Ok(Prepared {
        n,
        dimensions: specs.iter().map(|s| s.id.clone()).zip(composites.dimensions).collect(),
        overall: composites.overall,
        items,
    })
}
