//! Two waves side by side: each estimated on its own, then figure by figure.

use super::options::{AnalysisError, IndexOptions, Weights};
use super::report::{cell, indices, IndexRow};
use crate::db::Database;
use crate::registry::SurveyRegistry;
use crate::stats;
use serde::Serialize;

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
