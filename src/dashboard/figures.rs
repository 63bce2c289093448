//! The reports as officials read them: a headline, and for each chart its
//! SVG, its data table (shown under the chart, and downloadable) and the
//! words around it. Values are passed to the charts unrounded, so what is
//! drawn is exactly what the API says; rounding happens only in the text.

use super::{fixed, Wording};
use crate::analysis::{CompareReport, IndexReport, IndexRow, GROUP_SEPARATOR};
use crate::charts::table::{Cell, Table};
use crate::charts::{self, IntervalChart, IntervalRow, Legend, Mark, Reference, Scale, TrendChart, TrendPoint};
use crate::fieldwork::figures::FieldworkReport;
use crate::survey::Survey;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// A chart with the table behind it.
#[derive(Debug, Clone, Serialize)]
pub struct ChartBlock {
    /// Stable name: the anchor on the page and the download's file name.
    pub name: &'static str,
    pub heading: String,
    pub intro: String,
    pub svg: String,
    pub table_view: TableView,
    /// The same table with unrounded numbers, for CSV and Excel.
    #[serde(skip)]
    pub table: Table,
}

/// A table as the page prints it.
#[derive(Debug, Clone, Serialize)]
pub struct TableView {
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl TableView {
    fn of(table: &Table, wording: &dyn Wording) -> TableView {
        TableView {
            caption: table.title.clone(),
            columns: table.columns.clone(),
            rows: table
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|cell| match cell {
                            Cell::Text(t) => t.clone(),
                            Cell::Number {
                                value: Some(v),
                                decimals,
                            } => fixed(*v, *decimals as usize),
                            Cell::Number { value: None, .. } | Cell::Empty => wording.text("dash_no_value", &[]),
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

/// The overall index of the wave, and its change from the wave before.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    pub estimate: Option<String>,
    pub ci: Option<String>,
    pub n: u64,
    pub level: String,
    pub suppressed: bool,
    pub low_precision: bool,
    pub change: Option<HeadlineChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeadlineChange {
    pub previous_wave: i32,
    pub significant: bool,
    /// The change said in words: direction, size, and whether the
    /// comparison test finds it significant.
    pub statement: String,
    pub ci: Option<String>,
}

/// Names in the page's language: of the survey, its dimensions and items,
/// and of the groups (answers of the group-by question).
pub(super) struct Labels {
    pub survey_title: String,
    pub by_text: String,
    dimensions: HashMap<String, String>,
    items: HashMap<String, String>,
    groups: HashMap<String, String>,
}

impl Labels {
    pub(super) fn new(survey: &Survey, by: &str, wording: &dyn Wording) -> Labels {
        let lang = wording.lang();
        let by_question = survey.question(by);
        Labels {
            survey_title: survey.title.get(lang).to_string(),
            // The district question's text is a whole question ("Which
            // district do you live in?"); headings need its short name.
            by_text: match by_question {
                _ if by == crate::fieldwork::wave::DEFAULT_STRATUM_QUESTION => wording.text("dash_group_district", &[]),
                Some(q) => q.text.get(lang).to_string(),
                None => by.to_string(),
            },
            dimensions: survey
                .dimensions
                .iter()
                .map(|d| (d.id.to_string(), d.title.get(lang).to_string()))
                .collect(),
            items: survey
                .questions
                .iter()
                .map(|q| (q.id.to_string(), q.text.get(lang).to_string()))
                .collect(),
            groups: by_question
                .map(|q| {
                    q.kind
                        .options()
                        .iter()
                        .map(|o| (o.value.to_string(), o.label.get(lang).to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    pub(super) fn dimension(&self, id: &str) -> String {
        self.dimensions.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    pub(super) fn item(&self, id: &str) -> String {
        self.items.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    pub(super) fn group(&self, name: &str) -> String {
        name.split(GROUP_SEPARATOR)
            .map(|v| self.groups.get(v).cloned().unwrap_or_else(|| v.to_string()))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

const INDEX_SCALE: Scale = Scale {
    min: 0.0,
    max: 100.0,
    percent: false,
};
const SHARE_SCALE: Scale = Scale {
    min: 0.0,
    max: 1.0,
    percent: true,
};

fn mark(row: &IndexRow) -> Mark {
    // A figure without a value that is not withheld has no respondents
    // with a value (df 0, or an empty domain): nothing to draw either.
    if row.status.suppressed || row.figure.estimate.is_none() {
        Mark::Suppressed
    } else if row.status.low_precision {
        Mark::LowPrecision
    } else {
        Mark::Normal
    }
}

fn legend(wording: &dyn Wording, level: f64) -> Legend {
    Legend {
        suppressed: wording.text("dash_legend_suppressed", &[]),
        low_precision: wording.text("dash_legend_low_precision", &[]),
        interval: wording.text("dash_legend_interval", &[("level", &format!("{:.0}", level * 100.0))]),
        highlight: wording.text("dash_legend_significant", &[]),
    }
}

fn interval_row(label: String, row: &IndexRow) -> IntervalRow {
    IntervalRow {
        label,
        value: row.figure.estimate,
        low: row.figure.ci_low,
        high: row.figure.ci_high,
        mark: mark(row),
        note: row.status.note.clone(),
    }
}

/// The status of a figure in a table: published, low precision, or
/// suppressed.
fn status_cell(row: &IndexRow, wording: &dyn Wording) -> Cell {
    Cell::Text(match mark(row) {
        Mark::Suppressed => wording.text("dash_legend_suppressed", &[]),
        Mark::LowPrecision => wording.text("dash_legend_low_precision", &[]),
        _ => String::new(),
    })
}

/// A table row of one index: `first` (its names), then the index, its
/// interval, n and its status.
fn index_table_row(mut first: Vec<Cell>, row: &IndexRow, wording: &dyn Wording) -> Vec<Cell> {
    first.extend(
        [row.figure.estimate, row.figure.ci_low, row.figure.ci_high].map(|value| Cell::Number { value, decimals: 1 }),
    );
    first.push(Cell::Number {
        value: Some(row.n as f64),
        decimals: 0,
    });
    first.push(status_cell(row, wording));
    first
}

fn index_columns(first: String, wording: &dyn Wording) -> Vec<String> {
    vec![
        first,
        wording.text("dash_col_index", &[]),
        wording.text("dash_col_ci_low", &[]),
        wording.text("dash_col_ci_high", &[]),
        wording.text("dash_col_n", &[]),
        wording.text("dash_col_status", &[]),
    ]
}

/// The city-wide value of an index as a chart's reference line.
fn reference(report: &IndexReport, level: &str, id: &str, label_key: &str, wording: &dyn Wording) -> Option<Reference> {
    city_row(report, level, id)
        .and_then(|o| o.figure.estimate)
        .map(|value| Reference {
            label: wording.text(label_key, &[]),
            value,
        })
}

/// Groups' rows of an index as a chart's rows, named by their answers.
fn group_interval_rows(rows: &[&IndexRow], labels: &Labels) -> Vec<IntervalRow> {
    rows.iter()
        .map(|r| interval_row(labels.group(r.group.as_deref().unwrap_or("")), r))
        .collect()
}

fn city_row<'a>(report: &'a IndexReport, level: &str, id: &str) -> Option<&'a IndexRow> {
    report
        .rows
        .iter()
        .find(|r| r.group.is_none() && r.level == level && r.id == id)
}

fn block(
    name: &'static str,
    heading: String,
    intro: String,
    svg: String,
    table: Table,
    wording: &dyn Wording,
) -> ChartBlock {
    ChartBlock {
        name,
        heading,
        intro,
        svg,
        table_view: TableView::of(&table, wording),
        table,
    }
}

pub(super) fn headline(
    report: &IndexReport,
    change: Option<&CompareReport>,
    previous_wave: Option<i32>,
    wording: &dyn Wording,
) -> Headline {
    let overall = city_row(report, "overall", "overall");
    let ci = |low: Option<f64>, high: Option<f64>| Some(format!("{} – {}", fixed(low?, 1), fixed(high?, 1)));
    let change = change.zip(previous_wave).and_then(|(c, prev)| {
        let row = c
            .rows
            .iter()
            .find(|r| r.group.is_none() && r.level == "overall" && r.id == "overall")?;
        let difference = row.change.difference?;
        let key = match (row.change.significant, difference > 0.0) {
            (true, true) => "dash_change_up",
            (true, false) => "dash_change_down",
            (false, _) => "dash_change_none",
        };
        let p = row.change.p_value.map_or_else(String::new, |p| {
            if p < 0.001 {
                "< 0.001".to_string()
            } else {
                format!("= {}", fixed(p, 3))
            }
        });
        Some(HeadlineChange {
            previous_wave: prev,
            significant: row.change.significant,
            statement: wording.text(
                key,
                &[
                    ("points", &fixed(difference.abs(), 1)),
                    ("difference", &format!("{difference:+.1}")),
                    ("wave", &prev.to_string()),
                    ("p", &p),
                ],
            ),
            ci: ci(row.change.ci_low, row.change.ci_high),
        })
    });
    Headline {
        estimate: overall.and_then(|o| o.figure.estimate).map(|e| fixed(e, 1)),
        ci: overall.and_then(|o| ci(o.figure.ci_low, o.figure.ci_high)),
        n: overall.map_or(0, |o| o.n),
        level: format!("{:.0}", report.level * 100.0),
        suppressed: overall.is_some_and(|o| o.status.suppressed),
        low_precision: overall.is_some_and(|o| o.status.low_precision),
        change,
    }
}

/// The dimension indices against the overall index.
pub(super) fn dimensions(report: &IndexReport, labels: &Labels, wording: &dyn Wording) -> ChartBlock {
    let rows: Vec<&IndexRow> = report
        .rows
        .iter()
        .filter(|r| r.group.is_none() && r.level == "dimension")
        .collect();
    let chart = IntervalChart {
        id: "chart-dimensions".into(),
        title: wording.text("dash_dimensions_title", &[("wave", &report.wave.to_string())]),
        description: wording.text("dash_dimensions_desc", &[]),
        axis_label: wording.text("dash_axis_index", &[]),
        scale: INDEX_SCALE,
        reference: reference(report, "overall", "overall", "dash_reference_overall", wording),
        rows: rows.iter().map(|r| interval_row(labels.dimension(&r.id), r)).collect(),
        legend: legend(wording, report.level),
    };
    let table = Table {
        title: chart.title.clone(),
        columns: index_columns(wording.text("dash_col_dimension", &[]), wording),
        rows: rows
            .iter()
            .map(|r| index_table_row(vec![Cell::Text(labels.dimension(&r.id))], r, wording))
            .collect(),
    };
    block(
        "dimensions",
        wording.text("dash_dimensions_heading", &[]),
        wording.text("dash_dimensions_intro", &[]),
        charts::interval_svg(&chart),
        table,
        wording,
    )
}

/// The groups' rows of one index, best first; withheld groups last.
fn group_rows<'a>(report: &'a IndexReport, level: &str, id: &str) -> Vec<&'a IndexRow> {
    let mut rows: Vec<&IndexRow> = report
        .rows
        .iter()
        .filter(|r| r.group.is_some() && r.level == level && r.id == id)
        // A group nobody in the sample belongs to has nothing to show.
        .filter(|r| r.n > 0 || r.status.suppressed)
        .collect();
    rows.sort_by(|a, b| {
        let key = |r: &IndexRow| r.figure.estimate.unwrap_or(f64::NEG_INFINITY);
        key(b).total_cmp(&key(a))
    });
    rows
}

/// Every district's overall index against the city's.
pub(super) fn districts(report: &IndexReport, labels: &Labels, wording: &dyn Wording) -> ChartBlock {
    let rows = group_rows(report, "overall", "overall");
    let by = [("by", labels.by_text.as_str())];
    let chart = IntervalChart {
        id: "chart-districts".into(),
        title: wording.text("dash_districts_title", &by),
        description: wording.text("dash_districts_desc", &by),
        axis_label: wording.text("dash_axis_index", &[]),
        scale: INDEX_SCALE,
        reference: reference(report, "overall", "overall", "dash_reference_city", wording),
        rows: group_interval_rows(&rows, labels),
        legend: legend(wording, report.level),
    };
    let table = Table {
        title: chart.title.clone(),
        columns: index_columns(labels.by_text.clone(), wording),
        rows: rows
            .iter()
            .map(|r| {
                index_table_row(
                    vec![Cell::Text(labels.group(r.group.as_deref().unwrap_or("")))],
                    r,
                    wording,
                )
            })
            .collect(),
    };
    block(
        "districts",
        wording.text("dash_districts_heading", &by),
        wording.text("dash_districts_intro", &by),
        charts::interval_svg(&chart),
        table,
        wording,
    )
}

/// Each dimension by district: one small panel per dimension, the
/// districts in the order of their overall index.
pub(super) fn districts_by_dimension(report: &IndexReport, labels: &Labels, wording: &dyn Wording) -> ChartBlock {
    let order: Vec<Option<String>> = group_rows(report, "overall", "overall")
        .iter()
        .map(|r| r.group.clone())
        .collect();
    let dimension_ids: Vec<&str> = report
        .rows
        .iter()
        .filter(|r| r.group.is_none() && r.level == "dimension")
        .map(|r| r.id.as_str())
        .collect();
    let by = [("by", labels.by_text.as_str())];
    let mut panels = Vec::new();
    let mut table_rows = Vec::new();
    for (k, id) in dimension_ids.iter().enumerate() {
        let rows: Vec<&IndexRow> = order
            .iter()
            .filter_map(|g| {
                report
                    .rows
                    .iter()
                    .find(|r| r.group == *g && r.level == "dimension" && r.id == *id)
            })
            .collect();
        for r in &rows {
            let names = vec![
                Cell::Text(labels.group(r.group.as_deref().unwrap_or(""))),
                Cell::Text(labels.dimension(id)),
            ];
            table_rows.push(index_table_row(names, r, wording));
        }
        panels.push(IntervalChart {
            id: format!("chart-district-dimension-{k}"),
            title: labels.dimension(id),
            description: wording.text("dash_multiples_panel_desc", &[("dimension", &labels.dimension(id))]),
            axis_label: wording.text("dash_axis_index", &[]),
            scale: INDEX_SCALE,
            reference: reference(report, "dimension", id, "dash_reference_city", wording),
            rows: group_interval_rows(&rows, labels),
            legend: legend(wording, report.level),
        });
    }
    let title = wording.text("dash_multiples_title", &by);
    let mut columns = vec![labels.by_text.clone()];
    columns.extend(index_columns(wording.text("dash_col_dimension", &[]), wording));
    let table = Table {
        title: title.clone(),
        columns,
        rows: table_rows,
    };
    block(
        "districts-by-dimension",
        wording.text("dash_multiples_heading", &by),
        wording.text("dash_multiples_intro", &[]),
        charts::small_multiples_svg(
            "chart-districts-by-dimension",
            &title,
            &wording.text("dash_multiples_desc", &by),
            &panels,
            2,
        ),
        table,
        wording,
    )
}

/// The satisfied rate (top-two box) of every item, lowest first: where
/// to act first.
pub(super) fn items(report: &IndexReport, labels: &Labels, wording: &dyn Wording) -> ChartBlock {
    let mut rows: Vec<(&IndexRow, &crate::analysis::TopBox)> = report
        .rows
        .iter()
        .filter(|r| r.group.is_none() && r.level == "item")
        .filter_map(|r| Some((r, r.top_box.as_ref()?)))
        .collect();
    rows.sort_by(|(_, a), (_, b)| {
        let key = |t: &crate::analysis::TopBox| t.figure.estimate.unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b))
    });
    let top_mark = |t: &crate::analysis::TopBox| {
        if t.status.suppressed {
            Mark::Suppressed
        } else if t.status.low_precision {
            Mark::LowPrecision
        } else {
            Mark::Normal
        }
    };
    let chart = IntervalChart {
        id: "chart-items".into(),
        title: wording.text("dash_items_title", &[("wave", &report.wave.to_string())]),
        description: wording.text("dash_items_desc", &[]),
        axis_label: wording.text("dash_axis_share", &[]),
        scale: SHARE_SCALE,
        reference: None,
        rows: rows
            .iter()
            .map(|(r, t)| IntervalRow {
                label: labels.item(&r.id),
                value: t.figure.estimate,
                low: t.figure.ci_low,
                high: t.figure.ci_high,
                mark: top_mark(t),
                note: t.status.note.clone(),
            })
            .collect(),
        legend: legend(wording, report.level),
    };
    let table = Table {
        title: chart.title.clone(),
        columns: vec![
            wording.text("dash_col_item", &[]),
            wording.text("dash_col_share", &[]),
            wording.text("dash_col_ci_low", &[]),
            wording.text("dash_col_ci_high", &[]),
            wording.text("dash_col_index", &[]),
            wording.text("dash_col_n", &[]),
            wording.text("dash_col_status", &[]),
        ],
        rows: rows
            .iter()
            .map(|(r, t)| {
                let pct = |v: Option<f64>| Cell::Number {
                    value: v.map(|v| v * 100.0),
                    decimals: 1,
                };
                vec![
                    Cell::Text(labels.item(&r.id)),
                    pct(t.figure.estimate),
                    pct(t.figure.ci_low),
                    pct(t.figure.ci_high),
                    Cell::Number {
                        value: r.figure.estimate,
                        decimals: 1,
                    },
                    Cell::Number {
                        value: Some(r.n as f64),
                        decimals: 0,
                    },
                    Cell::Text(match top_mark(t) {
                        Mark::Suppressed => wording.text("dash_legend_suppressed", &[]),
                        Mark::LowPrecision => wording.text("dash_legend_low_precision", &[]),
                        _ => String::new(),
                    }),
                ]
            })
            .collect(),
    };
    block(
        "items",
        wording.text("dash_items_heading", &[]),
        wording.text("dash_items_intro", &[]),
        charts::interval_svg(&chart),
        table,
        wording,
    )
}

/// The overall index of every wave up to this one; the last point is
/// highlighted when its change from the wave before is significant.
pub(super) fn trend(waves: &[(i32, Option<Arc<IndexReport>>)], significant: bool, wording: &dyn Wording) -> ChartBlock {
    let level = waves
        .iter()
        .rev()
        .find_map(|(_, r)| r.as_ref().map(|r| r.level))
        .unwrap_or(0.95);
    let overall: Vec<(i32, Option<&IndexRow>)> = waves
        .iter()
        .map(|(w, r)| (*w, r.as_deref().and_then(|r| city_row(r, "overall", "overall"))))
        .collect();
    let chart = TrendChart {
        id: "chart-trend".into(),
        title: wording.text("dash_trend_title", &[]),
        description: wording.text("dash_trend_desc", &[]),
        axis_label: wording.text("dash_axis_index", &[]),
        scale: INDEX_SCALE,
        points: overall
            .iter()
            .enumerate()
            .map(|(i, (w, r))| TrendPoint {
                label: w.to_string(),
                value: r.and_then(|r| r.figure.estimate),
                low: r.and_then(|r| r.figure.ci_low),
                high: r.and_then(|r| r.figure.ci_high),
                mark: match r.map_or(Mark::Suppressed, mark) {
                    Mark::Normal if significant && i + 1 == overall.len() => Mark::Highlight,
                    other => other,
                },
            })
            .collect(),
        legend: legend(wording, level),
    };
    let table = Table {
        title: chart.title.clone(),
        columns: index_columns(wording.text("dash_col_wave", &[]), wording),
        rows: overall
            .iter()
            .map(|(w, r)| {
                let wave = vec![Cell::Text(w.to_string())];
                match r {
                    Some(r) => index_table_row(wave, r, wording),
                    None => {
                        let mut cells = wave;
                        cells.extend([Cell::Empty, Cell::Empty, Cell::Empty, Cell::Empty]);
                        cells.push(Cell::Text(wording.text("dash_trend_not_computed", &[])));
                        cells
                    }
                }
            })
            .collect(),
    };
    block(
        "trend",
        wording.text("dash_trend_heading", &[]),
        wording.text("dash_trend_intro", &[]),
        charts::trend_svg(&chart),
        table,
        wording,
    )
}

/// Invitations, completed responses and the response rate per stratum.
pub(super) fn fieldwork(report: &FieldworkReport, labels: &Labels, wording: &dyn Wording) -> ChartBlock {
    let chart = IntervalChart {
        id: "chart-fieldwork".into(),
        title: wording.text("dash_fieldwork_title", &[("wave", &report.wave.to_string())]),
        description: wording.text("dash_fieldwork_desc", &[]),
        axis_label: wording.text("dash_axis_response_rate", &[]),
        scale: SHARE_SCALE,
        reference: report.total.response_rate.map(|value| Reference {
            label: wording.text("dash_reference_all_strata", &[]),
            value,
        }),
        rows: report
            .strata
            .iter()
            .map(|s| IntervalRow {
                label: labels.group(&s.stratum),
                value: s.response_rate,
                low: None,
                high: None,
                mark: if s.response_rate.is_some() {
                    Mark::Normal
                } else {
                    Mark::Suppressed
                },
                note: None,
            })
            .collect(),
        legend: Legend {
            suppressed: wording.text("dash_no_invitations", &[]),
            low_precision: wording.text("dash_legend_low_precision", &[]),
            interval: String::new(),
            highlight: String::new(),
        },
    };
    let count = |n: u64| Cell::Number {
        value: Some(n as f64),
        decimals: 0,
    };
    let table = Table {
        title: chart.title.clone(),
        columns: vec![
            labels.by_text.clone(),
            wording.text("dash_col_population", &[]),
            wording.text("dash_col_invited", &[]),
            wording.text("dash_col_completed", &[]),
            wording.text("dash_col_response_rate", &[]),
            wording.text("dash_col_open_link", &[]),
        ],
        rows: report
            .strata
            .iter()
            .chain(std::iter::once(&report.total))
            .map(|s| {
                vec![
                    Cell::Text(if std::ptr::eq(s, &report.total) {
                        wording.text("dash_reference_all_strata", &[])
                    } else {
                        labels.group(&s.stratum)
                    }),
                    Cell::Number {
                        value: s.population,
                        decimals: 0,
                    },
                    count(s.invited),
                    count(s.completed),
                    Cell::Number {
                        value: s.response_rate.map(|r| r * 100.0),
                        decimals: 1,
                    },
                    count(s.open_link),
                ]
            })
            .collect(),
    };
    block(
        "fieldwork",
        wording.text("dash_fieldwork_heading", &[]),
        wording.text(
            "dash_fieldwork_intro",
            &[("definition", report.response_rate_definition)],
        ),
        charts::interval_svg(&chart),
        table,
        wording,
    )
}
