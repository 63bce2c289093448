//! The indices report as one CSV table: every index row, then the
//! estimated population of each domain, then the answer distributions,
//! each line carrying the report's own fields, so a CSV file says
//! everything the JSON does.

use super::distribution::DistributionRow;
use super::figure::{Figure, Status};
use super::report::{flag, IndexReport, IndexRow, MissingCounts, PopulationRow, TopBox};
use crate::stats::RakingDiagnostics;
use crate::survey::Missing;

/// CSV columns of `indices` before the raking ones ([`index_csv_header`]
/// has them all). `level` is overall, dimension or item for
/// indices, `population` for a domain's estimated population, `option`
/// for a distribution's share (its question in `id`, its value in
/// `option`, and in `missing` `dont_know` or `not_applicable` when the
/// option is one). `n_dont_know` and `n_not_applicable` count an item's
/// missing answers of each kind in the domain, beside `n` who scored it.
pub const INDEX_CSV_HEADER: [&str; 50] = [
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
    "missing",
    "n_dont_know",
    "n_not_applicable",
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

/// The columns from `level` to `top_box_total_low_precision`: one line's own figures.
struct Line<'a> {
    level: &'a str,
    id: &'a str,
    group: Option<&'a str>,
    option: Option<&'a str>,
    missing: Option<Missing>,
    n: u64,
    count: Option<u64>,
    missing_counts: Option<MissingCounts>,
    n_eff: Option<f64>,
    df: u64,
    figure: &'a Figure,
    deff_kish: Option<f64>,
    status: &'a Status,
    top_box: Option<&'a TopBox>,
}

fn figure_cells(f: Option<&Figure>) -> [String; 6] {
    let f = f.cloned().unwrap_or_default();
    [f.estimate, f.se, f.ci_low, f.ci_high, f.deff, f.cv].map(cell)
}

fn status_cells(s: Option<&Status>, with_suppressed: bool) -> Vec<String> {
    let mut cells = Vec::new();
    if with_suppressed {
        cells.push(s.map(|s| s.suppressed.to_string()).unwrap_or_default());
    }
    cells.push(s.map(|s| s.low_precision.to_string()).unwrap_or_default());
    if with_suppressed {
        cells.push(s.and_then(|s| s.note.clone()).unwrap_or_default());
    }
    cells
}

impl Line<'_> {
    fn cells(&self) -> Vec<String> {
        let tb = self.top_box;
        let total = tb.and_then(|t| t.total.as_ref());
        let [estimate, se, ci_low, ci_high, deff, cv] = figure_cells(Some(self.figure));
        let [t_estimate, t_se, t_ci_low, t_ci_high, _, t_cv] = figure_cells(total.map(|t| &t.figure));
        let mut cells = vec![
            self.level.to_string(),
            text(self.id),
            text(self.group.unwrap_or_default()),
            text(self.option.unwrap_or_default()),
            self.n.to_string(),
            count(self.count),
            self.missing.map(|m| m.as_str().to_string()).unwrap_or_default(),
            count(self.missing_counts.map(|m| m.n_dont_know)),
            count(self.missing_counts.map(|m| m.n_not_applicable)),
            cell(self.n_eff),
            estimate,
            se,
            self.df.to_string(),
            ci_low,
            ci_high,
            deff,
            cell(self.deff_kish),
            cv,
        ];
        cells.extend(status_cells(Some(self.status), true));
        cells.extend(figure_cells(tb.map(|t| &t.figure)));
        cells.extend(status_cells(tb.map(|t| &t.status), true));
        cells.extend([t_estimate, t_se, t_ci_low, t_ci_high, t_cv]);
        cells.extend(status_cells(total.map(|t| &t.status), false));
        cells
    }
}

impl<'a> From<&'a IndexRow> for Line<'a> {
    fn from(r: &'a IndexRow) -> Self {
        Line {
            level: r.level,
            id: &r.id,
            group: r.group.as_deref(),
            option: None,
            missing: None,
            n: r.n,
            count: None,
            missing_counts: r.missing,
            n_eff: r.n_eff,
            df: r.df,
            figure: &r.figure,
            deff_kish: r.deff_kish,
            status: &r.status,
            top_box: r.top_box.as_ref(),
        }
    }
}

impl<'a> From<&'a PopulationRow> for Line<'a> {
    fn from(r: &'a PopulationRow) -> Self {
        Line {
            level: "population",
            id: "population",
            group: r.group.as_deref(),
            option: None,
            missing: None,
            n: r.n,
            count: None,
            missing_counts: None,
            n_eff: None,
            df: r.df,
            figure: &r.figure,
            deff_kish: None,
            status: &r.status,
            top_box: None,
        }
    }
}

impl<'a> From<&'a DistributionRow> for Line<'a> {
    fn from(r: &'a DistributionRow) -> Self {
        Line {
            level: "option",
            id: &r.question,
            group: r.group.as_deref(),
            option: Some(&r.option),
            missing: r.missing,
            n: r.n,
            count: r.count,
            missing_counts: None,
            n_eff: None,
            df: r.df,
            figure: &r.figure,
            deff_kish: None,
            status: &r.status,
            top_box: None,
        }
    }
}

/// A text cell of a CSV (an id, a label, a name): safe to open in a
/// spreadsheet (see `spreadsheet`).
pub(crate) fn text(cell: &str) -> String {
    crate::spreadsheet::neutralise_formula(cell).into_owned()
}

pub fn write_index_csv(report: &IndexReport, out: &mut dyn std::io::Write) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(index_csv_header())?;
    let sources: Vec<&str> = report.selection.sources.iter().map(|s| s.as_str()).collect();
    let boot = report.bootstrap.as_ref();
    let batches: Vec<&str> = report.selection.batches.iter().map(|b| b.name.as_str()).collect();
    let head = [
        text(&report.survey),
        report.wave.to_string(),
        report.definition.version.to_string(),
        sources.join(","),
        text(&batches.join(",")),
        flag(&report.weights),
        flag(&report.design_weights),
        report.variance.to_string(),
        boot.map(|b| b.replicates.to_string()).unwrap_or_default(),
        boot.map(|b| b.seed.to_string()).unwrap_or_default(),
        boot.map(|b| b.redrawn.to_string()).unwrap_or_default(),
        flag(&report.lonely_psu),
        text(report.by.as_deref().unwrap_or_default()),
    ];
    let tail: Vec<String> = std::iter::once(text(&report.notes.join(" | ")))
        .chain(raking_cells(report.raking.as_ref()))
        .collect();
    let lines = report
        .rows
        .iter()
        .map(Line::from)
        .chain(report.population.iter().map(Line::from))
        .chain(report.distributions.iter().flatten().map(Line::from));
    for figures in lines {
        w.write_record(head.iter().cloned().chain(figures.cells()).chain(tail.iter().cloned()))?;
    }
    w.flush()?;
    Ok(())
}
