//! Satisfaction indices for statisticians: the glue between storage, the
//! published definition and the pure `stats` engine.
//!
//! It reads one wave's respondents as compact columns, turns each version's
//! option codes into item scores and top-two-box flags (questions are
//! matched by id, so versions stay comparable), builds the design (weights
//! none, design or raked), runs the engine, and shapes its rows for JSON and
//! CSV. No arithmetic of the methodology happens here.

use crate::db::{AnalysisColumns, Database, MarginTotal};
use crate::registry::SurveyRegistry;
use crate::stats::{
    self, BootstrapOptions, Design, DesignSpec, DimensionSpec, Estimate, EstimateOptions, Grouping, Kind, Level,
    Margin, RakeOptions, Variable,
};
use crate::survey::{QuestionKind, Survey};
use serde::Serialize;
use std::collections::HashMap;
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
        }
    }
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

/// One published figure, as JSON/CSV show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndexRow {
    pub level: &'static str,
    pub id: String,
    pub group: Option<String>,
    pub n: u64,
    pub n_eff: Option<f64>,
    pub estimate: Option<f64>,
    pub se: Option<f64>,
    pub df: u64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub suppressed: bool,
    pub low_precision: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_box: Option<TopBox>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopBox {
    pub estimate: Option<f64>,
    pub se: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub suppressed: bool,
    pub low_precision: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub survey: String,
    pub wave: i32,
    pub weights: Weights,
    pub level: f64,
    pub variance: &'static str,
    pub rows: Vec<IndexRow>,
}

/// The respondent-level variables of one wave, ready for the engine.
struct Prepared {
    n: usize,
    items: Vec<PreparedItem>,
    dimensions: Vec<(String, Vec<f64>)>,
    overall: Vec<f64>,
}

/// An item as codes into a table of its distinct (score, top-two) values,
/// the same across versions, plus its score column for the composites.
struct PreparedItem {
    id: String,
    codes: Vec<u8>,
    score_by_code: Vec<Option<f64>>,
    top_by_code: Vec<Option<bool>>,
}

impl PreparedItem {
    /// Score column (`NaN` = missing), for the estimators that want columns.
    fn score_column(&self) -> Vec<f64> {
        self.codes
            .iter()
            .map(|&c| self.score_by_code[c as usize].unwrap_or(f64::NAN))
            .collect()
    }

    fn top_column(&self) -> Vec<Option<bool>> {
        self.codes.iter().map(|&c| self.top_by_code[c as usize]).collect()
    }

    fn coded(&self) -> stats::CodedItem<'_> {
        stats::CodedItem {
            id: &self.id,
            codes: &self.codes,
            score_by_code: &self.score_by_code,
            top_by_code: &self.top_by_code,
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Overall => "overall",
        Level::Dimension => "dimension",
        Level::Item => "item",
    }
}

/// Per stored version: where each analysis item sits in its codes, and the
/// score and top-two flag of each code.
struct VersionMap {
    /// Per analysis item, `None` when this version lacks the question.
    items: Vec<Option<ItemCoding>>,
}

/// Where an item sits in a version's codes, and what each code means.
struct ItemCoding {
    position: usize,
    score_by_code: Vec<Option<f64>>,
    top_by_code: Vec<Option<bool>>,
}

fn version_map(survey: &Survey, item_ids: &[&str]) -> VersionMap {
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

/// Scored questions of the latest version, in order: the items.
fn analysis_items(survey: &Survey) -> Vec<&str> {
    survey
        .questions
        .iter()
        .filter(|q| q.is_scored())
        .map(|q| q.id.as_str())
        .collect()
}

fn prepare(wave: &WaveData<'_>) -> Result<Prepared, AnalysisError> {
    let latest = wave.latest;
    let data = &wave.data;
    let item_ids = analysis_items(latest);
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
    let specs: Vec<DimensionSpec> = latest
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
                    let q = latest.question(id)?;
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

/// Per-respondent option index (in the latest version's option list) of a
/// choice question, matched by option value across versions.
fn choice_column(latest: &Survey, question: &str, wave: &WaveData<'_>) -> Vec<Option<u32>> {
    let target = latest.question(question).expect("checked by the caller");
    // Per version: the question's position and its options' positions in
    // the latest version (matched by value).
    let per_slot: Vec<Option<(usize, Vec<Option<u32>>)>> = wave
        .slot_versions
        .iter()
        .map(|s| {
            let pos = s.question_index(question)?;
            let mapping = s.questions[pos]
                .kind
                .options()
                .iter()
                .map(|o| {
                    target
                        .kind
                        .options()
                        .iter()
                        .position(|t| t.value == o.value)
                        .map(|p| p as u32)
                })
                .collect();
            Some((pos, mapping))
        })
        .collect();
    let data = &wave.data;
    (0..data.len())
        .map(|i| {
            let (pos, mapping) = per_slot[wave.slots[i] as usize].as_ref()?;
            let code = data.codes[data.code_offsets[i] + pos] as usize;
            code.checked_sub(1).and_then(|c| mapping.get(c).copied().flatten())
        })
        .collect()
}

fn choice_question<'a>(
    latest: &'a Survey,
    slug: &str,
    question: &str,
) -> Result<&'a crate::survey::Question, AnalysisError> {
    let is_choice = |q: &crate::survey::Question| {
        matches!(
            q.kind,
            QuestionKind::SingleChoice { .. } | QuestionKind::Likert { .. } | QuestionKind::Rating { .. }
        )
    };
    match latest.question(question) {
        Some(q) if is_choice(q) => Ok(q),
        Some(_) => Err(AnalysisError::ByNotChoice(question.to_string())),
        None => Err(AnalysisError::UnknownBy {
            slug: slug.to_string(),
            question: question.to_string(),
            choices: latest
                .questions
                .iter()
                .filter(|q| matches!(q.kind, QuestionKind::SingleChoice { .. }))
                .map(|q| q.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn build_margins(slug: &str, totals: &[MarginTotal], wave: &WaveData<'_>) -> Result<Vec<Margin>, AnalysisError> {
    let latest = wave.latest;
    let mut order: Vec<&str> = Vec::new();
    for t in totals {
        if !order.contains(&t.question.as_str()) {
            order.push(&t.question);
        }
    }
    let mut margins = Vec::new();
    for question in order {
        let q = choice_question(latest, slug, question).map_err(|e| match e {
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
        let column = choice_column(latest, question, wave);
        let missing = column.iter().filter(|c| c.is_none()).count();
        if missing > 0 {
            return Err(AnalysisError::Margins(format!(
                "{missing} respondents have no answer to {question:?}, so they cannot be raked to its margin"
            )));
        }
        // Categories neither in the sample nor in the population play no part.
        let mut present = vec![false; options.len()];
        for c in column.iter().flatten() {
            present[*c as usize] = true;
        }
        let keep: Vec<usize> = (0..options.len())
            .filter(|&i| present[i] || category_totals[i].is_some())
            .collect();
        let new_code: HashMap<u32, u32> = keep
            .iter()
            .enumerate()
            .map(|(new, &old)| (old as u32, new as u32))
            .collect();
        margins.push(Margin {
            name: question.to_string(),
            categories: keep.iter().map(|&i| options[i].value.to_string()).collect(),
            codes: column.iter().map(|c| new_code[&c.expect("checked above")]).collect(),
            totals: keep.iter().map(|&i| category_totals[i]).collect(),
        });
    }
    Ok(margins)
}

/// Everything needed to estimate one wave.
struct WaveData<'r> {
    latest: &'r Survey,
    /// Every stored version, and each respondent's index into it: vector
    /// lookups in loops that run a million times.
    slot_versions: Vec<&'r Survey>,
    slots: Vec<u32>,
    wave: i32,
    data: AnalysisColumns,
}

fn load_wave<'r>(
    db: &Database,
    registry: &'r SurveyRegistry,
    slug: &str,
    wave: Option<i32>,
) -> Result<WaveData<'r>, AnalysisError> {
    let stored = registry.versions(slug);
    let latest = &stored
        .last()
        .ok_or_else(|| AnalysisError::UnknownSurvey(slug.to_string()))?
        .survey;
    let wave = match wave {
        Some(w) => w,
        None => *db.waves(slug)?.last().ok_or(AnalysisError::NoResponses {
            slug: slug.to_string(),
            wave: None,
        })?,
    };
    let data = db.analysis_columns(slug, wave)?;
    if data.is_empty() {
        return Err(AnalysisError::NoResponses {
            slug: slug.to_string(),
            wave: Some(wave),
        });
    }
    let slot_ids: Vec<i64> = stored.iter().map(|s| s.version_id).collect();
    let slot_versions: Vec<&Survey> = stored.iter().map(|s| &s.survey).collect();
    let slot_of: HashMap<i64, u32> = slot_ids.iter().enumerate().map(|(k, id)| (*id, k as u32)).collect();
    let slots = data.version_ids.iter().map(|id| slot_of[id]).collect();
    Ok(WaveData {
        latest,
        slot_versions,
        slots,
        wave,
        data,
    })
}

/// The population margins for `raked`: `--margins`, else the wave's stored ones.
fn resolve_margins(
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

fn design(
    wave: &WaveData<'_>,
    slug: &str,
    weights: Weights,
    totals: Option<&[MarginTotal]>,
) -> Result<Design, AnalysisError> {
    let data = &wave.data;
    match weights {
        Weights::None => Ok(Design::unweighted(data.len())?),
        Weights::Design | Weights::Raked => {
            let weights_column: Vec<Option<f64>> = data.weights.iter().map(|w| Some(*w)).collect();
            let design = Design::new(DesignSpec {
                weights: &weights_column,
                respondent_ids: None,
                strata: Some(&data.stratum),
                stratum_names: &data.strata,
                psus: Some(&data.psu),
            })?;
            match totals {
                Some(totals) if weights == Weights::Raked => {
                    let margins = build_margins(slug, totals, wave)?;
                    Ok(design.rake(&margins, &RakeOptions::default())?)
                }
                _ => Ok(design),
            }
        }
    }
}

fn note(e: &Estimate) -> Option<String> {
    e.ci_unavailable.map(|c| c.to_string())
}

/// Compute every index of one wave.
pub fn indices(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    options: &IndexOptions,
) -> Result<IndexReport, AnalysisError> {
    if !(options.level > 0.0 && options.level < 1.0) {
        return Err(AnalysisError::Option(format!(
            "level must lie between 0 and 1, not {}",
            options.level
        )));
    }
    let started = std::time::Instant::now();
    let wave = load_wave(db, registry, slug, options.wave)?;
    log::debug!("loaded {} respondents in {:?}", wave.data.len(), started.elapsed());
    let by_question = options
        .by
        .as_deref()
        .map(|b| choice_question(wave.latest, slug, b))
        .transpose()?;
    let totals = resolve_margins(db, slug, wave.wave, options)?;
    let design = design(&wave, slug, options.weights, totals.as_deref())?;
    log::debug!("design ready after {:?}", started.elapsed());
    let prepared = prepare(&wave)?;
    debug_assert_eq!(prepared.n, wave.data.len());
    log::debug!("scores and composites ready after {:?}", started.elapsed());

    let mut composite_variables = vec![Variable {
        level: Level::Overall,
        id: "overall".into(),
        score: &prepared.overall,
        top_box: None,
    }];
    for (id, column) in &prepared.dimensions {
        composite_variables.push(Variable {
            level: Level::Dimension,
            id: id.clone(),
            score: column,
            top_box: None,
        });
    }
    let group_codes;
    let group_order: Vec<u32>;
    let grouping = match by_question {
        Some(q) => {
            group_codes = choice_column(wave.latest, q.id.as_str(), &wave);
            group_order = (0..q.kind.options().len() as u32).collect();
            Some(Grouping {
                codes: &group_codes,
                order: &group_order,
            })
        }
        None => None,
    };
    let estimate_options = EstimateOptions {
        level: options.level,
        min_cell: options.min_cell,
        threads: 2,
    };
    // Items go through their option codes (one pass gives score and top-two
    // box); the bootstrap and unclustered designs use score columns.
    let coded: Vec<stats::CodedItem<'_>> = prepared.items.iter().map(PreparedItem::coded).collect();
    let coded_rows = match options.variance {
        Variance::Linearized => stats::estimate_items_coded(&design, &coded, grouping.as_ref(), &estimate_options)?,
        Variance::Bootstrap { .. } => None,
    };
    let item_columns: Vec<(Vec<f64>, Vec<Option<bool>>)> = match coded_rows {
        Some(_) => Vec::new(),
        None => prepared
            .items
            .iter()
            .map(|it| (it.score_column(), it.top_column()))
            .collect(),
    };
    let mut variables = composite_variables;
    let composite_count = variables.len();
    if coded_rows.is_none() {
        for (item, (score, top)) in prepared.items.iter().zip(&item_columns) {
            variables.push(Variable {
                level: Level::Item,
                id: item.id.clone(),
                score,
                top_box: Some(top),
            });
        }
    }
    let mut rows = stats::estimate_all(&design, &variables, grouping.as_ref(), &estimate_options)?;
    if let Some(item_rows) = coded_rows {
        // Both lists run domain by domain; interleave them into that order.
        let per_domain = prepared.items.len();
        let mut merged = Vec::with_capacity(rows.len() + item_rows.len());
        let mut items = item_rows.into_iter();
        for chunk in rows.chunks(composite_count) {
            merged.extend_from_slice(chunk);
            merged.extend(items.by_ref().take(per_domain));
        }
        rows = merged;
    }
    log::debug!("{} estimates after {:?}", rows.len(), started.elapsed());

    let variance = match options.variance {
        Variance::Linearized => "linearized",
        Variance::Bootstrap { replicates, seed } => {
            let boot = stats::bootstrap_all(
                &design,
                &variables,
                grouping.as_ref(),
                &BootstrapOptions {
                    replicates,
                    seed,
                    threads: 2,
                },
            )?;
            let key = |level: Level, id: &str, group: Option<u32>, kind: Kind| {
                boot.iter()
                    .find(|b| b.level == level && b.id == id && b.group == group && b.kind == kind)
                    .and_then(|b| b.se)
            };
            for row in &mut rows {
                row.score = stats::with_standard_error(
                    &row.score,
                    key(row.level, &row.id, row.group, Kind::Mean),
                    Kind::Mean,
                    &estimate_options,
                );
                if let Some(t) = &row.top_box {
                    let se = key(row.level, &row.id, row.group, Kind::Proportion);
                    row.top_box = Some(stats::with_standard_error(t, se, Kind::Proportion, &estimate_options));
                }
            }
            "bootstrap"
        }
    };

    let group_name = |g: Option<u32>| -> Option<String> {
        let q = by_question?;
        g.map(|g| q.kind.options()[g as usize].value.to_string())
    };
    let mut out: Vec<IndexRow> = rows
        .iter()
        .map(|r| IndexRow {
            level: level_name(r.level),
            id: r.id.clone(),
            group: group_name(r.group),
            n: r.score.n,
            n_eff: r.score.n_eff,
            estimate: r.score.estimate,
            se: r.score.se,
            df: r.score.df,
            ci_low: r.score.ci_low,
            ci_high: r.score.ci_high,
            suppressed: r.score.suppressed,
            low_precision: r.score.low_precision,
            note: note(&r.score),
            top_box: r.top_box.as_ref().map(|t| TopBox {
                estimate: t.estimate,
                se: t.se,
                ci_low: t.ci_low,
                ci_high: t.ci_high,
                suppressed: t.suppressed,
                low_precision: t.low_precision,
                note: note(t),
            }),
        })
        .collect();
    protect_suppressed_cells(&mut out, options.min_cell);
    Ok(IndexReport {
        survey: slug.to_string(),
        wave: wave.wave,
        weights: options.weights,
        level: options.level,
        variance,
        rows: out,
    })
}

/// Secondary suppression: when exactly one group of a variable is
/// suppressed, its value could be recovered from the whole-sample figure
/// and the other groups, so the next smallest group is withheld too.
fn protect_suppressed_cells(rows: &mut [IndexRow], min_cell: u64) {
    const NOTE: &str = "suppressed to protect a smaller cell from recovery by subtraction";
    let mut by_variable: HashMap<(&'static str, String), Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.group.is_some() {
            by_variable.entry((r.level, r.id.clone())).or_default().push(i);
        }
    }
    for indices in by_variable.values() {
        let small = |n: u64| n > 0 && n < min_cell;
        if indices.iter().filter(|&&i| small(rows[i].n)).count() == 1 {
            let partner = indices
                .iter()
                .copied()
                .filter(|&i| !rows[i].suppressed && rows[i].n > 0)
                .min_by_key(|&i| rows[i].n);
            if let Some(p) = partner {
                let r = &mut rows[p];
                r.suppressed = true;
                r.estimate = None;
                r.se = None;
                r.ci_low = None;
                r.ci_high = None;
                r.low_precision = false;
                r.note = Some(NOTE.into());
                if let Some(t) = &mut r.top_box {
                    *t = TopBox {
                        estimate: None,
                        se: None,
                        ci_low: None,
                        ci_high: None,
                        suppressed: true,
                        low_precision: false,
                        note: Some(NOTE.into()),
                    };
                }
            }
        }
    }
}

/// CSV columns of `indices`: the JSON row flattened.
pub const INDEX_CSV_HEADER: [&str; 15] = [
    "level",
    "id",
    "group",
    "n",
    "n_eff",
    "estimate",
    "se",
    "df",
    "ci_low",
    "ci_high",
    "suppressed",
    "low_precision",
    "top_box_estimate",
    "top_box_ci_low",
    "top_box_ci_high",
];

fn cell(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

pub fn write_index_csv(report: &IndexReport, out: &mut dyn std::io::Write) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(INDEX_CSV_HEADER)?;
    for r in &report.rows {
        let tb = r.top_box.as_ref();
        w.write_record([
            r.level.to_string(),
            r.id.clone(),
            r.group.clone().unwrap_or_default(),
            r.n.to_string(),
            cell(r.n_eff),
            cell(r.estimate),
            cell(r.se),
            r.df.to_string(),
            cell(r.ci_low),
            cell(r.ci_high),
            r.suppressed.to_string(),
            r.low_precision.to_string(),
            cell(tb.and_then(|t| t.estimate)),
            cell(tb.and_then(|t| t.ci_low)),
            cell(tb.and_then(|t| t.ci_high)),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// One figure of a two-wave comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub level: &'static str,
    pub id: String,
    pub group: Option<String>,
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub difference: Option<f64>,
    pub se: Option<f64>,
    pub df: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub survey: String,
    pub from: i32,
    pub to: i32,
    pub weights: Weights,
    pub level: f64,
    pub rows: Vec<CompareRow>,
}

/// Compare two waves: each is estimated on its own (raked to its own
/// stored margins, or to `--margins` for both), then figure by figure.
pub fn compare(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    from: i32,
    to: i32,
    options: &IndexOptions,
) -> Result<CompareReport, AnalysisError> {
    let earlier = indices(
        db,
        registry,
        slug,
        &IndexOptions {
            wave: Some(from),
            ..options.clone()
        },
    )?;
    let later = indices(
        db,
        registry,
        slug,
        &IndexOptions {
            wave: Some(to),
            ..options.clone()
        },
    )?;
    let mut rows = Vec::new();
    for b in &later.rows {
        let a = earlier
            .rows
            .iter()
            .find(|a| a.level == b.level && a.id == b.id && a.group == b.group);
        let figure = |r: &IndexRow| Some((r.estimate?, r.se?, r.df as f64));
        let (comparison, note) = match (a.and_then(figure), figure(b)) {
            (Some(x), Some(y)) => match stats::compare_values(x, y, options.level) {
                Ok(c) => (Some(c), None),
                Err(e) => (None, Some(e.to_string())),
            },
            _ => (
                None,
                Some("not comparable: a wave has no published estimate (suppressed or empty)".to_string()),
            ),
        };
        rows.push(CompareRow {
            level: b.level,
            id: b.id.clone(),
            group: b.group.clone(),
            from: a.and_then(|a| a.estimate),
            to: b.estimate,
            difference: comparison.as_ref().map(|c| c.difference),
            se: comparison.as_ref().map(|c| c.se),
            df: comparison.as_ref().map(|c| c.df),
            ci_low: comparison.as_ref().and_then(|c| c.ci_low),
            ci_high: comparison.as_ref().and_then(|c| c.ci_high),
            p_value: comparison.as_ref().and_then(|c| c.p_value),
            note,
        });
    }
    Ok(CompareReport {
        survey: slug.to_string(),
        from,
        to,
        weights: options.weights,
        level: options.level,
        rows,
    })
}

pub const COMPARE_CSV_HEADER: [&str; 11] = [
    "level",
    "id",
    "group",
    "from",
    "to",
    "difference",
    "se",
    "df",
    "ci_low",
    "ci_high",
    "p_value",
];

pub fn write_compare_csv(report: &CompareReport, out: &mut dyn std::io::Write) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COMPARE_CSV_HEADER)?;
    for r in &report.rows {
        w.write_record([
            r.level.to_string(),
            r.id.clone(),
            r.group.clone().unwrap_or_default(),
            cell(r.from),
            cell(r.to),
            cell(r.difference),
            cell(r.se),
            cell(r.df),
            cell(r.ci_low),
            cell(r.ci_high),
            cell(r.p_value),
        ])?;
    }
    w.flush()?;
    Ok(())
}
