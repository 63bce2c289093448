//! The report's methods section, written from the data behind the
//! figures: which responses, how many per district, the response rates,
//! the weighting, the interval method, the suppression rule and the
//! exclusions. Every sentence is filled from the report it describes, so
//! the methods can never drift from the figures.

use super::figures::Labels;
use super::{fixed, Wording};
use crate::analysis::{DesignWeights, IndexReport, Weights};
use crate::fieldwork::figures::FieldworkReport;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Methods {
    pub paragraphs: Vec<Paragraph>,
    /// Respondents and the population they stand for, per district.
    pub sample: Vec<SampleRow>,
    pub sample_columns: Vec<String>,
    /// What a reader must know (notes of the engine, changes not computed).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Paragraph {
    pub heading: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SampleRow {
    pub group: String,
    pub n: String,
    pub population: String,
    pub response_rate: String,
}

impl Methods {
    pub(super) fn new(
        report: &IndexReport,
        fieldwork: Option<&FieldworkReport>,
        labels: &Labels,
        wording: &dyn Wording,
        min_cell: u64,
        notes: Vec<String>,
    ) -> Methods {
        let t = |key: &str, args: &[(&str, &str)]| wording.text(key, args);
        let mut paragraphs = Vec::new();
        let sources: Vec<String> = report
            .selection
            .sources
            .iter()
            .map(|s| t(&format!("dash_source_{}", s.as_str()), &[]))
            .collect();
        let n_all = report.population.iter().find(|p| p.group.is_none()).map_or(0, |p| p.n);
        let left_out: u64 = report.selection.left_out.values().sum();
        let mut sample = t(
            "dash_methods_sample",
            &[
                ("sources", &sources.join(", ")),
                ("n", &n_all.to_string()),
                ("wave", &report.wave.to_string()),
                ("version", &report.definition.version.to_string()),
            ],
        );
        if left_out > 0 {
            sample.push(' ');
            sample.push_str(&t("dash_methods_left_out", &[("n", &left_out.to_string())]));
        }
        paragraphs.push(Paragraph {
            heading: t("dash_methods_sample_heading", &[]),
            text: sample,
        });
        let design = match report.design_weights {
            DesignWeights::None => t("dash_methods_design_none", &[]),
            DesignWeights::Stored => t("dash_methods_design_stored", &[]),
            DesignWeights::Frame => t("dash_methods_design_frame", &[]),
        };
        let mut weighting = match report.weights {
            Weights::None => t("dash_methods_weights_none", &[]),
            Weights::Design => design,
            Weights::Raked => format!("{design} {}", t("dash_methods_weights_raked", &[])),
        };
        if let Some(raking) = &report.raking {
            weighting.push(' ');
            weighting.push_str(&t(
                "dash_methods_raking",
                &[
                    ("sweeps", &raking.sweeps.to_string()),
                    ("error", &format!("{:.2e}", raking.max_margin_error)),
                    ("min", &fixed(raking.weight_min, 1)),
                    ("max", &fixed(raking.weight_max, 1)),
                ],
            ));
        }
        paragraphs.push(Paragraph {
            heading: t("dash_methods_weighting_heading", &[]),
            text: weighting,
        });
        paragraphs.push(Paragraph {
            heading: t("dash_methods_ci_heading", &[]),
            text: t("dash_methods_ci", &[("level", &format!("{:.0}", report.level * 100.0))]),
        });
        let withheld = report.rows.iter().filter(|r| r.status.suppressed).count();
        paragraphs.push(Paragraph {
            heading: t("dash_methods_suppression_heading", &[]),
            text: t(
                "dash_methods_suppression",
                &[("min_cell", &min_cell.to_string()), ("withheld", &withheld.to_string())],
            ),
        });
        let exclusions = match &report.selection.excluded {
            Some(e) => t(
                "dash_methods_excluded",
                &[
                    (
                        "flags",
                        &e.flags
                            .iter()
                            .map(|f| t(&format!("dash_flag_{}", f.as_str()), &[]))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    ("n", &e.respondents.to_string()),
                ],
            ),
            None => t("dash_methods_not_excluded", &[]),
        };
        paragraphs.push(Paragraph {
            heading: t("dash_methods_exclusions_heading", &[]),
            text: exclusions,
        });
        if let Some(f) = fieldwork {
            paragraphs.push(Paragraph {
                heading: t("dash_methods_fieldwork_heading", &[]),
                text: t(
                    "dash_methods_fieldwork",
                    &[
                        ("invited", &f.total.invited.to_string()),
                        ("completed", &f.total.completed.to_string()),
                        (
                            "rate",
                            &f.total
                                .response_rate
                                .map_or_else(|| "—".into(), |r| format!("{}%", fixed(r * 100.0, 1))),
                        ),
                        ("definition", f.response_rate_definition),
                    ],
                ),
            });
        }
        let rate_of = |group: &str| {
            fieldwork
                .and_then(|f| f.strata.iter().find(|s| s.stratum == group))
                .and_then(|s| s.response_rate)
                .map_or_else(String::new, |r| format!("{}%", fixed(r * 100.0, 1)))
        };
        Methods {
            paragraphs,
            sample: report
                .population
                .iter()
                .map(|p| SampleRow {
                    group: p
                        .group
                        .as_deref()
                        .map_or_else(|| t("dash_reference_city", &[]), |g| labels.group(g)),
                    n: p.n.to_string(),
                    population: p
                        .figure
                        .estimate
                        .map_or_else(|| t("dash_legend_suppressed", &[]), |e| fixed(e, 0)),
                    response_rate: p.group.as_deref().map_or_else(String::new, rate_of),
                })
                .collect(),
            sample_columns: vec![
                labels.by_text.clone(),
                t("dash_col_n", &[]),
                t("dash_col_population", &[]),
                t("dash_col_response_rate", &[]),
            ],
            notes,
        }
    }
}
