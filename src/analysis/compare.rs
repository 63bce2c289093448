//! Two waves side by side: each estimated on its own design, then figure
//! by figure, for the index and for the satisfied rate (top-two box), with
//! each wave's n, n_eff and precision flag, and a word on whether the two
//! waves' definitions compute their indices alike.

use super::options::{AnalysisError, IndexOptions, Weights};
use super::report::{flag, indices, DefinitionUsed, IndexReport, IndexRow, TopBox};
use super::tables::{cell, raking_cells, raking_header};
use crate::db::Database;
use crate::registry::SurveyRegistry;
use crate::stats::{self, Comparison, DfRule, RakingDiagnostics};
use crate::survey::versioning::scoring_differences;
use serde::Serialize;

/// One figure of a two-wave comparison: the index and, for items, the
/// satisfied rate.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub level: &'static str,
    pub id: String,
    pub group: Option<String>,
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub n_from: u64,
    pub n_to: u64,
    pub n_eff_from: Option<f64>,
    pub n_eff_to: Option<f64>,
    pub low_precision_from: bool,
    pub low_precision_to: bool,
    #[serde(flatten)]
    pub change: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_box: Option<TopBoxChange>,
}

/// The change of one figure between the waves.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Change {
    pub difference: Option<f64>,
    pub se: Option<f64>,
    pub df: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p_value: Option<f64>,
    /// The CI excludes 0 (p below 1 − level).
    pub significant: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The change of the satisfied rate (a share, 0–1).
#[derive(Debug, Clone, Serialize)]
pub struct TopBoxChange {
    pub from: Option<f64>,
    pub to: Option<f64>,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Debug, Clone, Serialize)]
pub struct RakingPair {
    pub from: RakingDiagnostics,
    pub to: RakingDiagnostics,
}

/// Whether the two waves' definitions compute their indices alike.
#[derive(Debug, Clone, Serialize)]
pub struct Definitions {
    pub from: DefinitionUsed,
    pub to: DefinitionUsed,
    /// What differs between the definitions in what makes the indices;
    /// empty when nothing does.
    pub differences: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub survey: String,
    pub from: i32,
    pub to: i32,
    pub weights: Weights,
    pub level: f64,
    /// `min`: df = min(df₁, df₂); `stacked`: df₁ + df₂ (docs/statistics.md §6.4).
    pub df_rule: DfRule,
    pub definitions: Definitions,
    /// What raking did to each wave (weights `raked` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raking: Option<RakingPair>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub rows: Vec<CompareRow>,
}

const NOT_COMPARABLE: &str = "not comparable: a wave has no published estimate (suppressed or empty)";

fn change(from: Option<(f64, f64, f64)>, to: Option<(f64, f64, f64)>, level: f64, rule: DfRule) -> Change {
    let (Some(a), Some(b)) = (from, to) else {
        return Change {
            note: Some(NOT_COMPARABLE.into()),
            ..Change::default()
        };
    };
    match stats::compare_values(a, b, level, rule) {
        Ok(Comparison {
            difference,
            se,
            df,
            ci_low,
            ci_high,
            p_value,
            ..
        }) => Change {
            difference: Some(difference),
            se: Some(se),
            df: Some(df),
            ci_low,
            ci_high,
            p_value,
            significant: p_value.is_some_and(|p| p < 1.0 - level),
            note: None,
        },
        Err(e) => Change {
            note: Some(e.to_string()),
            ..Change::default()
        },
    }
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
    rule: DfRule,
) -> Result<CompareReport, AnalysisError> {
    let (earlier, later) = compare_options(from, to, options)?;
    let earlier = indices(db, registry, slug, &earlier)?;
    let later = indices(db, registry, slug, &later)?;
    compare_reports(&earlier, &later, registry, slug, options.level, rule)
}

/// The options of each wave's indices for comparing waves `from` and
/// `to` with `options`, or why they cannot be compared.
pub fn compare_options(
    from: i32,
    to: i32,
    options: &IndexOptions,
) -> Result<(IndexOptions, IndexOptions), AnalysisError> {
    if from == to {
        return Err(AnalysisError::Option(format!(
            "compare needs two different waves, not {from} twice"
        )));
    }
    if options.distributions {
        return Err(AnalysisError::Option(
            "answer distributions are figures of one wave: ask indices --distributions for each".into(),
        ));
    }
    let wave = |w: i32| IndexOptions {
        wave: Some(w),
        ..options.clone()
    };
    Ok((wave(from), wave(to)))
}

/// Compare two waves' reports, computed with the same options but the
/// wave (see [`compare_options`]), figure by figure at `level`.
pub fn compare_reports(
    earlier: &IndexReport,
    later: &IndexReport,
    registry: &SurveyRegistry,
    slug: &str,
    level: f64,
    rule: DfRule,
) -> Result<CompareReport, AnalysisError> {
    let (from, to) = (earlier.wave, later.wave);
    if from == to {
        return Err(AnalysisError::Option(format!(
            "compare needs two different waves, not {from} twice"
        )));
    }
    if earlier.weights != later.weights || earlier.by != later.by {
        return Err(AnalysisError::Option(format!(
            "the reports of waves {from} and {to} were computed with different weights or groups"
        )));
    }
    let figure = |r: &IndexRow| Some((r.figure.estimate?, r.figure.se?, r.df as f64));
    let share = |t: &TopBox, df: u64| Some((t.figure.estimate?, t.figure.se?, df as f64));
    let mut rows = Vec::new();
    for b in &later.rows {
        let a = earlier
            .rows
            .iter()
            .find(|a| a.level == b.level && a.id == b.id && a.group == b.group);
        let top_box = b.top_box.as_ref().map(|tb| {
            let ta = a.and_then(|a| Some((a.top_box.as_ref()?, a.df)));
            TopBoxChange {
                from: ta.and_then(|(t, _)| t.figure.estimate),
                to: tb.figure.estimate,
                change: change(ta.and_then(|(t, df)| share(t, df)), share(tb, b.df), level, rule),
            }
        });
        let mut changed = change(a.and_then(figure), figure(b), level, rule);
        if a.is_none() {
            changed.note = Some(format!("not comparable: wave {from} has no such figure"));
        }
        rows.push(CompareRow {
            level: b.level,
            id: b.id.clone(),
            group: b.group.clone(),
            from: a.and_then(|a| a.figure.estimate),
            to: b.figure.estimate,
            n_from: a.map_or(0, |a| a.n),
            n_to: b.n,
            n_eff_from: a.and_then(|a| a.n_eff),
            n_eff_to: b.n_eff,
            low_precision_from: a.is_some_and(|a| a.status.low_precision),
            low_precision_to: b.status.low_precision,
            change: changed,
            top_box,
        });
    }
    let differences = match (
        registry.version(slug, earlier.definition.version),
        registry.version(slug, later.definition.version),
    ) {
        (Some(x), Some(y)) => scoring_differences(&x.survey, &y.survey),
        _ => Vec::new(),
    };
    let mut notes = Vec::new();
    if !differences.is_empty() {
        notes.push(format!(
            "the waves' definitions (v{} and v{}) compute the indices differently: {}; a difference may \
             come from the definitions as well as from satisfaction",
            earlier.definition.version,
            later.definition.version,
            differences.join("; ")
        ));
    }
    if rule == DfRule::Min {
        notes.push("df = min(df of each wave), the conservative rule; --df stacked uses their sum".into());
    }
    Ok(CompareReport {
        survey: slug.to_string(),
        from,
        to,
        weights: later.weights,
        level,
        df_rule: rule,
        raking: match (&earlier.raking, &later.raking) {
            (Some(from), Some(to)) => Some(RakingPair {
                from: from.clone(),
                to: to.clone(),
            }),
            _ => None,
        },
        definitions: Definitions {
            from: earlier.definition.clone(),
            to: later.definition.clone(),
            differences,
        },
        notes,
        rows,
    })
}

pub const COMPARE_CSV_HEADER: [&str; 37] = [
    "survey",
    "from_wave",
    "to_wave",
    "weights",
    "df_rule",
    "definition_from",
    "definition_to",
    "level",
    "id",
    "group",
    "from",
    "to",
    "n_from",
    "n_to",
    "n_eff_from",
    "n_eff_to",
    "low_precision_from",
    "low_precision_to",
    "difference",
    "se",
    "df",
    "ci_low",
    "ci_high",
    "p_value",
    "significant",
    "note",
    "top_box_from",
    "top_box_to",
    "top_box_difference",
    "top_box_se",
    "top_box_df",
    "top_box_ci_low",
    "top_box_ci_high",
    "top_box_p_value",
    "top_box_significant",
    "top_box_note",
    "report_notes",
];

/// The CSV header of `compare`: [`COMPARE_CSV_HEADER`], then each wave's
/// raking diagnostics.
pub fn compare_csv_header() -> Vec<String> {
    COMPARE_CSV_HEADER
        .iter()
        .map(|c| c.to_string())
        .chain(raking_header("raking_from_"))
        .chain(raking_header("raking_to_"))
        .collect()
}

pub fn write_compare_csv(report: &CompareReport, out: &mut dyn std::io::Write) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(compare_csv_header())?;
    let raking: Vec<String> = raking_cells(report.raking.as_ref().map(|r| &r.from))
        .into_iter()
        .chain(raking_cells(report.raking.as_ref().map(|r| &r.to)))
        .collect();
    for r in &report.rows {
        let tb = r.top_box.as_ref();
        let c = &r.change;
        w.write_record(
            [
                super::tables::text(&report.survey),
                report.from.to_string(),
                report.to.to_string(),
                flag(&report.weights),
                flag(&report.df_rule),
                report.definitions.from.version.to_string(),
                report.definitions.to.version.to_string(),
                r.level.to_string(),
                super::tables::text(&r.id),
                super::tables::text(r.group.as_deref().unwrap_or_default()),
                cell(r.from),
                cell(r.to),
                r.n_from.to_string(),
                r.n_to.to_string(),
                cell(r.n_eff_from),
                cell(r.n_eff_to),
                r.low_precision_from.to_string(),
                r.low_precision_to.to_string(),
                cell(c.difference),
                cell(c.se),
                cell(c.df),
                cell(c.ci_low),
                cell(c.ci_high),
                cell(c.p_value),
                c.significant.to_string(),
                c.note.clone().unwrap_or_default(),
                cell(tb.and_then(|t| t.from)),
                cell(tb.and_then(|t| t.to)),
                cell(tb.and_then(|t| t.change.difference)),
                cell(tb.and_then(|t| t.change.se)),
                cell(tb.and_then(|t| t.change.df)),
                cell(tb.and_then(|t| t.change.ci_low)),
                cell(tb.and_then(|t| t.change.ci_high)),
                cell(tb.and_then(|t| t.change.p_value)),
                tb.map(|t| t.change.significant.to_string()).unwrap_or_default(),
                tb.and_then(|t| t.change.note.clone()).unwrap_or_default(),
                report.notes.join(" | "),
            ]
            .into_iter()
            .chain(raking.iter().cloned()),
        )?;
    }
    w.flush()?;
    Ok(())
}
