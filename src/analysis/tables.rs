//! The indices report as one CSV table: every index row, then the
//! estimated population of each domain, then the answer distributions,
//! each line carrying the report's own fields, so a CSV file says
//! everything the JSON does.

use super::distribution::DistributionRow;
use super::report::{flag, IndexReport, IndexRow, PopulationRow, TopBox};
use crate::stats::RakingDiagnostics;

/// CSV columns of `indices` before the raking ones ([`index_csv_header`]
/// has them all). `level` is overall, dimension or item for
/// indices, `population` for a domain's estimated population, `option`
/// for a distribution's share (its question in `id`, its value in
/// `option`).
pub const INDEX_CSV_HEADER: [&str; 47] = [
    "survey",
    "wave",
    "definition_version",
    "sources",
    "import_batches",
    "weights",
    "design_weights",
    "variance",
    "bootstrap_replicates",
    "bootstrap_seed",
    "bootstrap_redrawn",
    "lonely_psu",
    "by",
    "level",
    "id",
    "group",
    "option",
    "n",
    "count",
    "n_eff",
    "estimate",
    "se",
    "df",
    "ci_low",
    "ci_high",
    "deff",
    "deff_kish",
    "cv",
    "suppressed",
    "low_precision",
    "note",
    "top_box_estimate",
    "top_box_se",
    "top_box_ci_low",
    "top_box_ci_high",
    "top_box_deff",
    "top_box_cv",
    "top_box_suppressed",
    "top_box_low_precision",
    "top_box_note",
    "top_box_total",
    "top_box_total_se",
    "top_box_total_ci_low",
    "top_box_total_ci_high",
    "top_box_total_cv",
    "top_box_total_low_precision",
    "report_notes",
];

/// The raking columns, after `prefix` (e.g. `raking_`, `raking_from_`).
pub(super) fn raking_header(prefix: &str) -> Vec<String> {
    RAKING_COLUMNS.iter().map(|c| format!("{prefix}{c}")).collect()
}

const RAKING_COLUMNS: [&str; 14] = [
    "method",
    "sweeps",
    "converged",
    "max_margin_error",
    "worst_category",
    "weight_min",
    "weight_max",
    "weight_cv",
    "factor_min",
    "factor_max",
    "bound_lower",
    "bound_upper",
    "at_lower",
    "at_upper",
];

/// The raking cells of a CSV row: empty unless the weights were raked.
pub(super) fn raking_cells(raking: Option<&RakingDiagnostics>) -> Vec<String> {
    match raking {
        None => vec![String::new(); RAKING_COLUMNS.len()],
        Some(r) => vec![
            flag(&r.method),
            r.sweeps.to_string(),
            r.converged.to_string(),
            r.max_margin_error.to_string(),
            r.worst_category.clone(),
            r.weight_min.to_string(),
            r.weight_max.to_string(),
            r.weight_cv.to_string(),
            r.factor_min.to_string(),
            r.factor_max.to_string(),
            cell(r.bounds.map(|b| b[0])),
            cell(r.bounds.map(|b| b[1])),
            r.at_lower.to_string(),
            r.at_upper.to_string(),
        ],
    }
}

/// The CSV header of `indices`.
pub fn index_csv_header() -> Vec<String> {
    INDEX_CSV_HEADER
        .iter()
        .map(|c| c.to_string())
        .chain(raking_header("raking_"))
        .collect()
}

pub(super) fn cell(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

fn count(x: Option<u64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// The columns from `level` to `note`, one line's own figures.
struct Figures<'a> {
    level: &'a str,
    id: &'a str,
    group: Option<&'a str>,
    option: Option<&'a str>,
    n: u64,
    count: Option<u64>,
    n_eff: Option<f64>,
    estimate: Option<f64>,
    se: Option<f64>,
    df: u64,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    deff: Option<f64>,
    deff_kish: Option<f64>,
    cv: Option<f64>,
    suppressed: bool,
    low_precision: bool,
    note: Option<&'a str>,
    top_box: Option<&'a TopBox>,
}

impl Figures<'_> {
    fn cells(&self) -> Vec<String> {
        let tb = self.top_box;
        let total = tb.and_then(|t| t.total.as_ref());
        vec![
            self.level.to_string(),
            self.id.to_string(),
            self.group.unwrap_or_default().to_string(),
            self.option.unwrap_or_default().to_string(),
            self.n.to_string(),
            count(self.count),
            cell(self.n_eff),
            cell(self.estimate),
            cell(self.se),
            self.df.to_string(),
            cell(self.ci_low),
            cell(self.ci_high),
            cell(self.deff),
            cell(self.deff_kish),
            cell(self.cv),
            self.suppressed.to_string(),
            self.low_precision.to_string(),
            self.note.unwrap_or_default().to_string(),
            cell(tb.and_then(|t| t.estimate)),
            cell(tb.and_then(|t| t.se)),
            cell(tb.and_then(|t| t.ci_low)),
            cell(tb.and_then(|t| t.ci_high)),
            cell(tb.and_then(|t| t.deff)),
            cell(tb.and_then(|t| t.cv)),
            tb.map(|t| t.suppressed.to_string()).unwrap_or_default(),
            tb.map(|t| t.low_precision.to_string()).unwrap_or_default(),
            tb.and_then(|t| t.note.clone()).unwrap_or_default(),
            cell(total.and_then(|t| t.estimate)),
            cell(total.and_then(|t| t.se)),
            cell(total.and_then(|t| t.ci_low)),
            cell(total.and_then(|t| t.ci_high)),
            cell(total.and_then(|t| t.cv)),
            total.map(|t| t.low_precision.to_string()).unwrap_or_default(),
        ]
    }
}

impl<'a> From<&'a IndexRow> for Figures<'a> {
    fn from(r: &'a IndexRow) -> Self {
        Figures {
            level: r.level,
            id: &r.id,
            group: r.group.as_deref(),
            option: None,
            n: r.n,
            count: None,
            n_eff: r.n_eff,
            estimate: r.estimate,
            se: r.se,
            df: r.df,
            ci_low: r.ci_low,
            ci_high: r.ci_high,
            deff: r.deff,
            deff_kish: r.deff_kish,
            cv: r.cv,
            suppressed: r.suppressed,
            low_precision: r.low_precision,
            note: r.note.as_deref(),
            top_box: r.top_box.as_ref(),
        }
    }
}

impl<'a> From<&'a PopulationRow> for Figures<'a> {
    fn from(r: &'a PopulationRow) -> Self {
        Figures {
            level: "population",
            id: "population",
            group: r.group.as_deref(),
            option: None,
            n: r.n,
            count: None,
            n_eff: None,
            estimate: r.estimate,
            se: r.se,
            df: r.df,
            ci_low: r.ci_low,
            ci_high: r.ci_high,
            deff: None,
            deff_kish: None,
            cv: r.cv,
            suppressed: r.suppressed,
            low_precision: r.low_precision,
            note: r.note.as_deref(),
            top_box: None,
        }
    }
}

impl<'a> From<&'a DistributionRow> for Figures<'a> {
    fn from(r: &'a DistributionRow) -> Self {
        Figures {
            level: "option",
            id: &r.question,
            group: r.group.as_deref(),
            option: Some(&r.option),
            n: r.n,
            count: r.count,
            n_eff: None,
            estimate: r.share,
            se: r.se,
            df: r.df,
            ci_low: r.ci_low,
            ci_high: r.ci_high,
            deff: r.deff,
            deff_kish: None,
            cv: r.cv,
            suppressed: r.suppressed,
            low_precision: r.low_precision,
            note: r.note.as_deref(),
            top_box: None,
        }
    }
}

pub fn write_index_csv(report: &IndexReport, out: &mut dyn std::io::Write) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(index_csv_header())?;
    let sources: Vec<&str> = report.selection.sources.iter().map(|s| s.as_str()).collect();
    let boot = report.bootstrap.as_ref();
    let batches: Vec<&str> = report.selection.batches.iter().map(|b| b.name.as_str()).collect();
    let head = [
        report.survey.clone(),
        report.wave.to_string(),
        report.definition.version.to_string(),
        sources.join(","),
        batches.join(","),
        flag(&report.weights),
        flag(&report.design_weights),
        report.variance.to_string(),
        boot.map(|b| b.replicates.to_string()).unwrap_or_default(),
        boot.map(|b| b.seed.to_string()).unwrap_or_default(),
        boot.map(|b| b.redrawn.to_string()).unwrap_or_default(),
        flag(&report.lonely_psu),
        report.by.clone().unwrap_or_default(),
    ];
    let tail: Vec<String> = std::iter::once(report.notes.join(" | "))
        .chain(raking_cells(report.raking.as_ref()))
        .collect();
    let lines = report
        .rows
        .iter()
        .map(Figures::from)
        .chain(report.population.iter().map(Figures::from))
        .chain(report.distributions.iter().flatten().map(Figures::from));
    for figures in lines {
        w.write_record(head.iter().cloned().chain(figures.cells()).chain(tail.iter().cloned()))?;
    }
    w.flush()?;
    Ok(())
}
