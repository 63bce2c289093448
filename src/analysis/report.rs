//! Indices of one wave: load, design, prepare, estimate, and shape the
//! engine's rows for JSON (the CSV is in `tables`).

use super::bootstrap::{bootstrap_figures, Figures};
use super::design::{design, resolve_margins, DesignChoice, DesignWeights};
use super::distribution::{answers, distribution_rows, DistributionRow};
use super::figure::{Figure, Status};
use super::groups::Groups;
use super::load::{load_wave, Selection, WaveData};
use super::options::{AnalysisError, IndexOptions, Variance, Weights};
use super::prepare::{level_name, prepare, PreparedItem};
#[cfg(feature = "postgres")]
use super::pushdown;
use crate::db::Database;
use crate::fieldwork::Source;
use crate::registry::SurveyRegistry;
use crate::stats::Cancel;
use crate::stats::{
    self, BootstrapOptions, BootstrapSummary, Estimate, EstimateOptions, Level, LonelyPsu, RakingDiagnostics, Variable,
};
use crate::stats::{protect_suppressed_cells, Cell};
use crate::survey::Missing;
use serde::Serialize;
use std::collections::HashMap;

/// One index (overall, dimension or item) in one domain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndexRow {
    pub level: &'static str,
    pub id: String,
    pub group: Option<String>,
    pub n: u64,
    pub n_eff: Option<f64>,
    pub df: u64,
    /// Items: respondents of the domain who answered "don't know" and
    /// "does not apply". Both are missing for the score, so neither is in
    /// `n`; withheld with the figure.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub missing: Option<MissingCounts>,
    #[serde(flatten)]
    pub figure: Figure,
    /// Kish's design effect of the weighting alone, n / n_eff.
    pub deff_kish: Option<f64>,
    #[serde(flatten)]
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_box: Option<TopBox>,
}

/// How many respondents of a domain gave each kind of missing answer to an
/// item (unweighted, like `n`).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct MissingCounts {
    pub n_dont_know: u64,
    pub n_not_applicable: u64,
}

impl MissingCounts {
    fn add(&mut self, missing: Missing) {
        match missing {
            Missing::DontKnow => self.n_dont_know += 1,
            Missing::NotApplicable => self.n_not_applicable += 1,
        }
    }
}

/// The satisfied rate of an item: the share answering one of the top two
/// options, and how many residents that is.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopBox {
    #[serde(flatten)]
    pub figure: Figure,
    #[serde(flatten)]
    pub status: Status,
    /// The estimated number of satisfied residents (`svytotal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Total>,
}

/// A weighted total with its precision.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Total {
    #[serde(flatten)]
    pub figure: Figure,
    #[serde(flatten)]
    pub status: Status,
}

/// The estimated population a domain stands for (`svytotal(~one)`): the
/// sum of its respondents' weights, with its standard error.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PopulationRow {
    pub group: Option<String>,
    pub n: u64,
    pub df: u64,
    #[serde(flatten)]
    pub figure: Figure,
    #[serde(flatten)]
    pub status: Status,
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub survey: String,
    pub wave: i32,
    /// The definition the indices were computed with.
    pub definition: DefinitionUsed,
    /// The question the groups are answers of (`--by`).
    pub by: Option<String>,
    /// Which responses were used and which left out.
    #[serde(flatten)]
    pub selection: Selection,
    pub weights: Weights,
    /// Where the design weights came from (before any raking).
    pub design_weights: DesignWeights,
    pub level: f64,
    pub variance: &'static str,
    /// How the bootstrap ran (variance `bootstrap` only): method, B, seed,
    /// replicates redrawn and bounds widened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapSummary>,
    /// How strata with a single PSU count.
    pub lonely_psu: LonelyPsu,
    /// What the raking did (weights `raked` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raking: Option<RakingDiagnostics>,
    /// What a reader of the figures should know (e.g. a frame stratum
    /// without responses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub rows: Vec<IndexRow>,
    /// The estimated population of the whole sample and of each group.
    pub population: Vec<PopulationRow>,
    /// Answer distributions (`--distributions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distributions: Option<Vec<DistributionRow>>,
}

/// The definition a wave's indices were computed with: the newest
/// version its respondents answered (its items, scores, dimensions and
/// weights), and every version they answered.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DefinitionUsed {
    pub version: u32,
    pub versions_answered: Vec<u32>,
}

/// An enum's serde name, for CSV cells.
pub(super) fn flag<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

impl TopBox {
    fn new(share: &Estimate, total: Option<&Estimate>) -> TopBox {
        TopBox {
            figure: share.into(),
            status: share.into(),
            total: total.filter(|t| !t.suppressed).map(|t| Total {
                figure: t.into(),
                status: t.into(),
            }),
        }
    }
}

impl IndexRow {
    fn new(
        level: Level,
        id: &str,
        group: Option<String>,
        row: &stats::Row,
        missing: Option<MissingCounts>,
    ) -> IndexRow {
        let e = &row.score;
        IndexRow {
            level: level_name(level),
            id: id.to_string(),
            group,
            n: e.n,
            n_eff: e.n_eff,
            df: e.df,
            missing: missing.filter(|_| !e.suppressed),
            figure: e.into(),
            deff_kish: e.n_eff.filter(|_| !e.suppressed).map(|n_eff| e.n as f64 / n_eff),
            status: e.into(),
            top_box: row.top_box.as_ref().map(|t| TopBox::new(t, row.top_box_total.as_ref())),
        }
    }
}

impl Cell for IndexRow {
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
        self.figure = Figure::default();
        self.missing = None;
        self.deff_kish = None;
        self.status = Status::withheld(note);
        if let Some(t) = &mut self.top_box {
            *t = TopBox {
                figure: Figure::default(),
                status: Status::withheld(note),
                total: None,
            };
        }
    }
}

impl Cell for PopulationRow {
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
        self.figure = Figure::default();
        self.status = Status::withheld(note);
    }
}

/// How the figures are computed from the stored responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Computation {
    /// The fastest measured: the rows, on both backends. On the benchmark
    /// (1,000,000 respondents, 30 items, PostgreSQL on the same machine)
    /// PostgreSQL reads them in 1.6 s and adds them up in 22.5 s: its
    /// executor spends about 0.7 µs per respondent and item in the hash
    /// aggregation, where the engine spends nanoseconds (docs/statistics.md §4.6).
    #[default]
    Auto,
    /// Read every respondent's row.
    Rows,
    /// PostgreSQL adds the wave up and sends sums per unit (§4.6): a few
    /// thousand rows instead of a million, and a fifth of the memory; an
    /// error where the sums do not cover the analysis, and on SQLite.
    Sums,
}

/// Compute every index of one wave.
pub fn indices(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    options: &IndexOptions,
) -> Result<IndexReport, AnalysisError> {
    indices_by(db, registry, slug, options, Computation::Auto)
}

/// [`indices`], computed the way `how` says (the tests compare them).
pub fn indices_by(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    options: &IndexOptions,
    how: Computation,
) -> Result<IndexReport, AnalysisError> {
    indices_run(db, registry, slug, options, how, &Cancel::default())
}

/// [`indices`], stopped with `StatsError::Cancelled` when `cancel` says so
/// (the server's time limit, or its client gone); the bootstrap checks it
/// before each replicate.
pub fn indices_until(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    options: &IndexOptions,
    cancel: &Cancel,
) -> Result<IndexReport, AnalysisError> {
    indices_run(db, registry, slug, options, Computation::Auto, cancel)
}

fn indices_run(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    options: &IndexOptions,
    how: Computation,
    cancel: &Cancel,
) -> Result<IndexReport, AnalysisError> {
    if !(options.level > 0.0 && options.level < 1.0) {
        return Err(AnalysisError::Option(format!(
            "level must lie between 0 and 1, not {}",
            options.level
        )));
    }
    if options.weight_bounds.is_some() && options.weights != Weights::Raked {
        return Err(AnalysisError::Option(
            "weight bounds limit the raking: give them with --weights raked".into(),
        ));
    }
    if how == Computation::Sums {
        #[cfg(feature = "postgres")]
        return pushdown::indices(db, registry, slug, options);
        #[cfg(not(feature = "postgres"))]
        return Err(AnalysisError::Option("sums need PostgreSQL".into()));
    }
    let started = std::time::Instant::now();
    let wave = load_wave(db, registry, slug, options)?;
    log::debug!("loaded {} respondents in {:?}", wave.data.len(), started.elapsed());
    cancel.check()?;
    let groups = options
        .by
        .as_deref()
        .map(|by| Groups::new(&wave, slug, by))
        .transpose()?;
    let totals = resolve_margins(db, slug, wave.wave, options)?;
    let DesignChoice {
        design,
        weights_from,
        mut notes,
    } = design(db, &wave, slug, options, totals.as_deref())?;
    notes.extend(design_notes(&design.lonely_strata(), options, &wave.selection));
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
    let grouping = groups.as_ref().map(Groups::grouping);
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
    let mut population = stats::population_totals(&design, grouping.as_ref(), &estimate_options)?;
    let answers = if options.distributions {
        answers(&wave)?
    } else {
        Vec::new()
    };
    let coded_answers: Vec<stats::CodedAnswers<'_>> = answers.iter().map(|a| a.coded()).collect();
    let mut shares = stats::distributions(&design, &coded_answers, grouping.as_ref(), &estimate_options)?;
    log::debug!("{} estimates after {:?}", rows.len(), started.elapsed());

    let (variance, bootstrap) = match options.variance {
        Variance::Linearized => ("linearized", None),
        Variance::Bootstrap { replicates, seed } => {
            let summary = bootstrap_figures(
                &design,
                &variables,
                &coded_answers,
                grouping.as_ref(),
                Figures {
                    rows: &mut rows,
                    population: &mut population,
                    shares: &mut shares,
                },
                &BootstrapOptions {
                    replicates,
                    seed,
                    threads: 2,
                    cancel: cancel.clone(),
                },
                &estimate_options,
            )?;
            if summary.redrawn > 0 || summary.widened > 0 {
                notes.push(bootstrap_note(&summary));
            }
            ("bootstrap", Some(summary))
        }
    };

    let group_name = |g: Option<u32>| -> Option<String> { Some(groups.as_ref()?.name(g?)) };
    let missing = missing_counts(&wave, prepared.items.iter().map(|i| i.id.as_str()), groups.as_ref());
    log::debug!("missing answers counted after {:?}", started.elapsed());
    let (out, population) = publish(
        &rows,
        &population,
        &missing,
        groups.as_ref().map(|g| g.names.as_slice()),
    );
    log::debug!("rows ready after {:?}", started.elapsed());
    let distributions = options.distributions.then(|| {
        distribution_rows(
            &shares,
            |id, k| answers.iter().find(|a| a.id == id).expect("asked for").values[k].clone(),
            group_name,
        )
    });
    Ok(IndexReport {
        survey: slug.to_string(),
        wave: wave.wave,
        definition: DefinitionUsed {
            version: wave.definition.version,
            versions_answered: wave.versions_answered.clone(),
        },
        by: options.by.clone(),
        selection: wave.selection,
        weights: options.weights,
        design_weights: weights_from,
        level: options.level,
        variance,
        bootstrap,
        lonely_psu: options.lonely_psu,
        raking: design.raking_diagnostics().cloned(),
        notes,
        rows: out,
        population,
        distributions,
    })
}

/// The engine's rows and populations as published rows, small cells
/// withheld and protected (§6.2). `group_names`: by group code, when the
/// rows have groups (codes in name order).
pub(super) fn publish(
    rows: &[stats::Row],
    population: &[Estimate],
    missing: &HashMap<(String, Option<u32>), MissingCounts>,
    group_names: Option<&[String]>,
) -> (Vec<IndexRow>, Vec<PopulationRow>) {
    let group_name = |g: Option<u32>| -> Option<String> { Some(group_names?[g? as usize].clone()) };
    let mut out: Vec<IndexRow> = rows
        .iter()
        .map(|r| {
            let counts = match r.level {
                Level::Item => missing
                    .get(&(r.id.clone(), r.group))
                    .copied()
                    .or(Some(MissingCounts::default())),
                _ => None,
            };
            IndexRow::new(r.level, &r.id, group_name(r.group), r, counts)
        })
        .collect();
    protect_suppressed_cells(&mut out, |r| (r.level, r.id.clone()));
    let groups = group_names.map_or(0, |g| g.len() as u32);
    let domains = std::iter::once(None).chain((0..groups).map(Some));
    let mut population: Vec<PopulationRow> = domains
        .zip(population)
        .map(|(g, e)| PopulationRow {
            group: group_name(g),
            n: e.n,
            df: e.df,
            figure: e.into(),
            status: e.into(),
        })
        .collect();
    protect_suppressed_cells(&mut population, |_| ());
    (out, population)
}

/// Where an item sits in one version's codes, and the kind of missing
/// answer of each of its codes.
type ItemMissing = (usize, Vec<Option<Missing>>);

/// Per (item, domain): the respondents who answered "don't know" or "does
/// not apply" (the whole sample is domain `None`). Answers are matched to
/// the wave's definition by option value, so every version counts alike.
/// One pass over the respondents, reading each one's codes where they lie
/// and counting into a slot per (item, domain): a million respondents, a
/// few dozen items.
fn missing_counts<'a>(
    wave: &WaveData<'_>,
    items: impl Iterator<Item = &'a str>,
    groups: Option<&Groups>,
) -> HashMap<(String, Option<u32>), MissingCounts> {
    let data = &wave.data;
    let domains = 1 + groups.map_or(0, |g| g.names.len());
    // The items with a kind of missing answer, and per version each one's
    // position in its codes with the kind of each code (code 0 is no
    // answer, option i has code i + 1), through the definition's option of
    // the same value.
    let mut ids: Vec<&str> = Vec::new();
    let mut per_slot: Vec<Vec<Option<ItemMissing>>> = vec![Vec::new(); wave.slot_versions.len()];
    for id in items {
        let Some(question) = wave.definition.question(id) else {
            continue;
        };
        let target = question.kind.options();
        if target.iter().all(|o| o.missing.is_none()) {
            continue;
        }
        ids.push(id);
        for (version, coding) in wave.slot_versions.iter().zip(per_slot.iter_mut()) {
            coding.push(version.question_index(id).map(|pos| {
                let kinds = std::iter::once(None)
                    .chain(
                        version.questions[pos]
                            .kind
                            .options()
                            .iter()
                            .map(|o| target.iter().find(|t| t.value == o.value).and_then(|t| t.missing)),
                    )
                    .collect();
                (pos, kinds)
            }));
        }
    }
    let mut counts = vec![MissingCounts::default(); ids.len() * domains];
    for (i, &slot) in wave.slots.iter().enumerate() {
        let codes = &data.codes[data.code_offsets[i]..];
        let group = groups.and_then(|g| g.codes[i]);
        for (j, coding) in per_slot[slot as usize].iter().enumerate() {
            let Some((pos, kinds)) = coding else {
                continue;
            };
            let Some(kind) = kinds.get(codes[*pos] as usize).copied().flatten() else {
                continue;
            };
            counts[j * domains].add(kind);
            if let Some(group) = group {
                counts[j * domains + 1 + group as usize].add(kind);
            }
        }
    }
    let mut out = HashMap::new();
    for (k, c) in counts.into_iter().enumerate() {
        if c != MissingCounts::default() {
            let domain = (k % domains).checked_sub(1).map(|g| g as u32);
            out.insert((ids[k / domains].to_string(), domain), c);
        }
    }
    out
}

/// What every report says of its design: strata with a single PSU and
/// how they were counted, and responses of the wave it left out.
pub(super) fn design_notes(lonely: &[&str], options: &IndexOptions, selection: &Selection) -> Vec<String> {
    let mut notes = Vec::new();
    if !lonely.is_empty() {
        notes.push(format!(
            "strata with a single PSU ({}) count as --lonely-psu {} says (docs/statistics.md §4.1)",
            lonely.join(", "),
            flag(&options.lonely_psu)
        ));
    }
    notes.extend(left_out_note(selection));
    notes
}

/// Say which responses of the wave were left out by source, and how to
/// include them.
fn left_out_note(selection: &Selection) -> Option<String> {
    if selection.left_out.is_empty() {
        return None;
    }
    let parts: Vec<String> = selection
        .left_out
        .iter()
        .map(|(s, n)| format!("{n} {s} response{}", if *n == 1 { "" } else { "s" }))
        .collect();
    let mut all: Vec<&str> = selection.sources.iter().map(|s| s.as_str()).collect();
    all.extend(
        selection
            .left_out
            .keys()
            .filter(|s| **s != Source::Import)
            .map(|s| s.as_str()),
    );
    Some(format!(
        "{} of this wave {} left out; --source {} includes them",
        parts.join(" and "),
        if parts.len() == 1 && selection.left_out.values().sum::<u64>() == 1 {
            "is"
        } else {
            "are"
        },
        all.join(",")
    ))
}

/// What the bootstrap had to do beyond plain draws.
fn bootstrap_note(summary: &BootstrapSummary) -> String {
    let mut parts = Vec::new();
    if summary.redrawn > 0 {
        parts.push(format!(
            "{} draws were redrawn because a replicate lost a raking category ({})",
            summary.redrawn,
            summary.redrawn_for.join(", ")
        ));
    }
    if summary.widened > 0 {
        let widest = summary
            .widest_bounds
            .map(|[l, u]| format!(" (widest [{l:.3}, {u:.3}])"))
            .unwrap_or_default();
        parts.push(format!(
            "{} replicates could not meet the weight bounds and were raked within wider ones{widest}",
            summary.widened
        ));
    }
    format!("bootstrap: {} (docs/statistics.md §4.5)", parts.join("; "))
}
