//! Indices of one wave: load, design, prepare, estimate, and shape the
//! engine's rows for JSON and CSV.

use super::design::{design, resolve_margins, DesignChoice, DesignWeights};
use super::groups::{Groups, GROUP_SEPARATOR};
use super::load::{load_wave, Selection};
use super::options::{AnalysisError, IndexOptions, Variance, Weights};
use super::prepare::{level_name, prepare, PreparedItem};
use crate::db::Database;
use crate::fieldwork::Source;
use crate::registry::SurveyRegistry;
use crate::stats::{
    self, BootstrapOptions, Estimate, EstimateOptions, Kind, Level, LonelyPsu, RakingDiagnostics, Variable,
};
use serde::Serialize;
use std::collections::HashMap;

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
    let wave = load_wave(db, registry, slug, options)?;
    log::debug!("loaded {} respondents in {:?}", wave.data.len(), started.elapsed());
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
    } = design(db, &wave, slug, options.weights, totals.as_deref(), options.lonely_psu)?;
    let lonely = design.lonely_strata();
    if !lonely.is_empty() {
        notes.push(format!(
            "strata with a single PSU ({}) count as --lonely-psu {} says (docs/statistics.md §4)",
            lonely.join(", "),
            flag(&options.lonely_psu)
        ));
    }
    if let Some(variance_note) = left_out_note(&wave.selection) {
        notes.push(variance_note);
    }
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

    let group_name = |g: Option<u32>| -> Option<String> { Some(groups.as_ref()?.name(g?)) };
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
    protect_suppressed_cells(&mut out);
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
        lonely_psu: options.lonely_psu,
        raking: design.raking_diagnostics().cloned(),
        notes,
        rows: out,
    })
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

/// Complementary suppression. A suppressed group could be recovered by
/// subtraction wherever it is the only one withheld among groups that add
/// up to a published figure: all the groups of a variable (they make the
/// whole sample), and, in a two-way table, each row and each column (they
/// make that row's or column's one-way figure). In each such line with
/// exactly one cell withheld, the smallest other non-empty cell of the line
/// is withheld too; repeated until no line has a lone withheld cell. The
/// smallest complement hides the least.
fn protect_suppressed_cells(rows: &mut [IndexRow]) {
    const NOTE: &str = "suppressed to protect a smaller cell from recovery by subtraction";
    let mut by_variable: HashMap<(&'static str, String), Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.group.is_some() {
            by_variable.entry((r.level, r.id.clone())).or_default().push(i);
        }
    }
    for cells in by_variable.values() {
        let parts = |i: usize| -> Vec<String> {
            rows[i]
                .group
                .as_deref()
                .unwrap_or("")
                .split(GROUP_SEPARATOR)
                .map(str::to_string)
                .collect()
        };
        // The lines: in a two-way table each row and each column first,
        // then every cell together.
        let mut lines: Vec<Vec<usize>> = Vec::new();
        let factors = cells.first().map_or(0, |&i| parts(i).len());
        if factors > 1 {
            for f in 0..factors {
                let mut by_value: Vec<(String, Vec<usize>)> = Vec::new();
                for &i in cells {
                    let value = parts(i)[f].clone();
                    match by_value.iter_mut().find(|(v, _)| *v == value) {
                        Some((_, line)) => line.push(i),
                        None => by_value.push((value, vec![i])),
                    }
                }
                lines.extend(by_value.into_iter().map(|(_, line)| line));
            }
        }
        lines.push(cells.clone());
        let lone = |rows: &[IndexRow], line: &Vec<usize>| line.iter().filter(|&&i| rows[i].suppressed).count() == 1;
        loop {
            let mut changed = false;
            for (l, line) in lines.iter().enumerate() {
                if !lone(rows, line) {
                    continue;
                }
                // Among the smallest, prefer a cell whose other line also
                // has a lone withheld cell: one complement then mends both.
                let mends_another = |i: usize| {
                    lines
                        .iter()
                        .enumerate()
                        .any(|(k, other)| k != l && other.contains(&i) && lone(rows, other))
                };
                let complement = line
                    .iter()
                    .copied()
                    .filter(|&i| !rows[i].suppressed && rows[i].n > 0)
                    .min_by_key(|&i| (!mends_another(i), rows[i].n));
                if let Some(p) = complement {
                    withhold(&mut rows[p], NOTE);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }
}

fn withhold(r: &mut IndexRow, note: &str) {
    r.suppressed = true;
    r.estimate = None;
    r.se = None;
    r.ci_low = None;
    r.ci_high = None;
    r.low_precision = false;
    r.note = Some(note.into());
    if let Some(t) = &mut r.top_box {
        *t = TopBox {
            estimate: None,
            se: None,
            ci_low: None,
            ci_high: None,
            suppressed: true,
            low_precision: false,
            note: Some(note.into()),
        };
    }
}

/// CSV columns of `indices`: the report's own fields on every row, then
/// the JSON row flattened, so a CSV file says everything the JSON does.
pub const INDEX_CSV_HEADER: [&str; 36] = [
    "survey",
    "wave",
    "definition_version",
    "sources",
    "weights",
    "design_weights",
    "variance",
    "by",
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
    "note",
    "top_box_estimate",
    "top_box_se",
    "top_box_ci_low",
    "top_box_ci_high",
    "top_box_suppressed",
    "top_box_low_precision",
    "top_box_note",
    "report_notes",
    "raking_sweeps",
    "raking_max_margin_error",
    "weight_min",
    "weight_max",
    "weight_cv",
    "factor_min",
    "factor_max",
];

/// The raking columns of a CSV row: empty unless the weights were raked.
pub(super) fn raking_cells(raking: Option<&RakingDiagnostics>) -> [String; 7] {
    match raking {
        None => Default::default(),
        Some(r) => [
            r.sweeps.to_string(),
            r.max_margin_error.to_string(),
            r.weight_min.to_string(),
            r.weight_max.to_string(),
            r.weight_cv.to_string(),
            r.factor_min.to_string(),
            r.factor_max.to_string(),
        ],
    }
}

pub(super) fn cell(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

pub fn write_index_csv(report: &IndexReport, out: &mut dyn std::io::Write) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(INDEX_CSV_HEADER)?;
    let sources: Vec<&str> = report.selection.sources.iter().map(|s| s.as_str()).collect();
    let notes = report.notes.join(" | ");
    let raking = raking_cells(report.raking.as_ref());
    for r in &report.rows {
        let tb = r.top_box.as_ref();
        let own = [
            report.survey.clone(),
            report.wave.to_string(),
            report.definition.version.to_string(),
            sources.join(","),
            flag(&report.weights),
            flag(&report.design_weights),
            report.variance.to_string(),
            report.by.clone().unwrap_or_default(),
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
            r.note.clone().unwrap_or_default(),
            cell(tb.and_then(|t| t.estimate)),
            cell(tb.and_then(|t| t.se)),
            cell(tb.and_then(|t| t.ci_low)),
            cell(tb.and_then(|t| t.ci_high)),
            tb.map(|t| t.suppressed.to_string()).unwrap_or_default(),
            tb.map(|t| t.low_precision.to_string()).unwrap_or_default(),
            tb.and_then(|t| t.note.clone()).unwrap_or_default(),
            notes.clone(),
        ];
        w.write_record(own.iter().chain(raking.iter()))?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(group: &str, n: u64, min_cell: u64) -> IndexRow {
        let shown = n >= min_cell;
        IndexRow {
            level: "overall",
            id: "overall".into(),
            group: Some(group.into()),
            n,
            n_eff: Some(n as f64),
            estimate: shown.then_some(60.0),
            se: shown.then_some(1.0),
            df: n.saturating_sub(1),
            ci_low: shown.then_some(58.0),
            ci_high: shown.then_some(62.0),
            suppressed: n > 0 && !shown,
            low_precision: false,
            note: None,
            top_box: None,
        }
    }

    fn withheld(rows: &[IndexRow]) -> Vec<&str> {
        rows.iter()
            .filter(|r| r.suppressed)
            .map(|r| r.group.as_deref().unwrap())
            .collect()
    }

    #[test]
    fn the_smallest_complement_protects_a_lone_suppressed_cell() {
        let mut rows: Vec<IndexRow> = [
            ("huancui", 321),
            ("wendeng", 4),
            ("gaoqu", 12),
            ("lingang", 0),
            ("rushan", 90),
        ]
        .iter()
        .map(|(g, n)| cell(g, *n, 10))
        .collect();
        protect_suppressed_cells(&mut rows);
        assert_eq!(
            withheld(&rows),
            ["wendeng", "gaoqu"],
            "not the 321, and not the empty cell"
        );
        assert!(rows[2].note.as_deref().unwrap().contains("protect"));
        assert!(!rows[3].suppressed, "an empty cell is empty, not withheld");
        // Two small cells protect each other: nothing more to withhold.
        let mut two: Vec<IndexRow> = [("a", 4), ("b", 5), ("c", 400)]
            .iter()
            .map(|(g, n)| cell(g, *n, 10))
            .collect();
        protect_suppressed_cells(&mut two);
        assert_eq!(withheld(&two), ["a", "b"]);
    }

    #[test]
    fn two_way_tables_protect_every_row_and_column() {
        // 2 districts × 3 age groups; one small cell.
        let cells = [
            ("h|young", 5),
            ("h|mid", 40),
            ("h|old", 30),
            ("w|young", 25),
            ("w|mid", 60),
            ("w|old", 80),
        ];
        let mut rows: Vec<IndexRow> = cells.iter().map(|(g, n)| cell(g, *n, 10)).collect();
        protect_suppressed_cells(&mut rows);
        let hidden = withheld(&rows);
        // Its row (h) and its column (young) each lose their smallest other
        // cell, and the cell that closes the rectangle keeps every line at
        // two or more.
        assert_eq!(hidden, ["h|young", "h|old", "w|young", "w|old"]);
        for line in [["h|young", "h|mid", "h|old"], ["w|young", "w|mid", "w|old"]] {
            let n = line.iter().filter(|g| hidden.contains(g)).count();
            assert!(n != 1, "{line:?}");
        }
        for line in [["h|young", "w|young"], ["h|mid", "w|mid"], ["h|old", "w|old"]] {
            let n = line.iter().filter(|g| hidden.contains(g)).count();
            assert!(n != 1, "{line:?}");
        }
    }
}
