//! Which reports a dashboard page needs, and the page built from them: the
//! wave asked for (grouped by district), the wave before it for the
//! change, and every earlier wave for the trend. Reports come through the
//! caller, so the server can serve them from its cache and the CLI can
//! compute them directly; each is the same [`IndexReport`] the API gives
//! for the same options.

use super::figures::{self, Labels};
use super::methods::Methods;
use super::options::{weights_name, DashboardOptions, LEVELS};
use super::{Choice, Dashboard, Wording};
use crate::analysis::{self, AnalysisError, CompareReport, IndexReport, Weights};
use crate::db::Database;
use crate::fieldwork::figures::FieldworkReport;
use crate::fieldwork::{Flag, Source};
use crate::registry::SurveyRegistry;
use crate::stats::DfRule;
use crate::survey::QuestionKind;
use std::sync::Arc;

/// What a page needs computed: the wave shown, the waves there are, and
/// whether the wave has invitations (then fieldwork is shown).
#[derive(Debug, Clone)]
pub struct Plan {
    pub wave: i32,
    /// Waves with responses, oldest first.
    pub waves: Vec<i32>,
    pub invitations: bool,
}

impl Plan {
    /// The waves before the one shown: the previous one gives the change,
    /// all of them the trend.
    pub fn earlier_waves(&self) -> impl Iterator<Item = i32> + '_ {
        self.waves.iter().copied().filter(|w| *w < self.wave)
    }
}

/// Which wave `options` ask for, among those with responses.
pub fn plan(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    options: &DashboardOptions,
) -> Result<Plan, AnalysisError> {
    if registry.latest(slug).is_none() {
        return Err(AnalysisError::UnknownSurvey(slug.to_string()));
    }
    let waves = db.waves(slug)?;
    let wave = match options.wave {
        Some(w) if waves.contains(&w) => w,
        Some(w) => {
            return Err(AnalysisError::NoResponses {
                slug: slug.into(),
                wave: Some(w),
            })
        }
        None => *waves.last().ok_or_else(|| AnalysisError::NoResponses {
            slug: slug.into(),
            wave: None,
        })?,
    };
    let invitations = !db.invitation_batches(slug, Some(wave))?.is_empty();
    Ok(Plan {
        wave,
        waves,
        invitations,
    })
}

/// The reports a [`Plan`] asked for, computed (or kept) by the caller.
pub struct Reports {
    /// The wave shown.
    pub current: Arc<IndexReport>,
    /// Each earlier wave's report, or why it could not be computed with
    /// these options (no margins stored for raking, say).
    pub earlier: Vec<(i32, Result<Arc<IndexReport>, String>)>,
    pub fieldwork: Option<FieldworkReport>,
}

/// Build the dashboard of `slug` for `options` from its reports.
pub fn build(
    registry: &SurveyRegistry,
    slug: &str,
    options: &DashboardOptions,
    min_cell: u64,
    plan: &Plan,
    reports: Reports,
    wording: &dyn Wording,
) -> Result<Dashboard, AnalysisError> {
    let latest = registry
        .latest(slug)
        .ok_or_else(|| AnalysisError::UnknownSurvey(slug.to_string()))?;
    let Reports {
        current,
        earlier,
        fieldwork,
    } = reports;
    let (wave, waves) = (plan.wave, &plan.waves);
    let definition = registry
        .version(slug, current.definition.version)
        .unwrap_or_else(|| latest.clone());
    let labels = Labels::new(&definition.survey, options.by(), wording);

    // The wave before, for the change; a wave the same options cannot be
    // computed for has no change, and the page says why.
    let mut notes: Vec<String> = current.notes.clone();
    let previous_wave = plan.earlier_waves().max();
    let mut change: Option<CompareReport> = None;
    if let Some((prev, earlier)) = earlier.iter().find(|(w, _)| Some(*w) == previous_wave) {
        match earlier {
            Ok(report) => {
                change = Some(analysis::compare_reports(
                    report,
                    &current,
                    registry,
                    slug,
                    options.level,
                    DfRule::Min,
                )?)
            }
            Err(why) => notes.push(wording.text("dash_no_change", &[("wave", &prev.to_string()), ("why", why)])),
        }
    }
    let significant = change
        .as_ref()
        .and_then(|c| c.rows.iter().find(|r| r.group.is_none() && r.level == "overall"))
        .is_some_and(|r| r.change.significant);
    let mut trend: Vec<(i32, Option<Arc<IndexReport>>)> =
        earlier.iter().map(|(w, r)| (*w, r.as_ref().ok().cloned())).collect();
    trend.push((wave, Some(current.clone())));
    trend.sort_by_key(|(w, _)| *w);

    let charts = vec![
        figures::dimensions(&current, &labels, wording),
        figures::districts(&current, &labels, wording),
        figures::districts_by_dimension(&current, &labels, wording),
        figures::items(&current, &labels, wording),
        figures::trend(&trend, significant, wording),
    ];
    let methods = Methods::new(&current, fieldwork.as_ref(), &labels, wording, min_cell, notes);
    Ok(Dashboard {
        slug: slug.to_string(),
        title: labels.survey_title.clone(),
        wave,
        query: options.query(wave),
        settings: wording.text(
            "dash_settings",
            &[
                (
                    "weights",
                    &wording.text(&format!("dash_weights_{}", weights_name(options.weights)), &[]),
                ),
                (
                    "sources",
                    &current
                        .selection
                        .sources
                        .iter()
                        .map(|s| wording.text(&format!("dash_source_{}", s.as_str()), &[]))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                ("by", &labels.by_text),
                ("level", &format!("{:.0}", options.level * 100.0)),
                (
                    "excluded",
                    &if options.exclude.is_empty() {
                        wording.text("dash_nothing_excluded", &[])
                    } else {
                        options
                            .exclude
                            .iter()
                            .map(|f| wording.text(&format!("dash_flag_{}", f.as_str()), &[]))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                ),
            ],
        ),
        definition_version: current.definition.version,
        versions_answered: current
            .definition
            .versions_answered
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        headline: figures::headline(&current, change.as_ref(), previous_wave, wording),
        charts,
        fieldwork: fieldwork.as_ref().map(|f| figures::fieldwork(f, &labels, wording)),
        methods,
        waves: waves
            .iter()
            .rev()
            .map(|w| Choice {
                value: w.to_string(),
                label: w.to_string(),
                selected: *w == wave,
            })
            .collect(),
        weights: [Weights::Design, Weights::Raked, Weights::None]
            .into_iter()
            .map(|w| Choice {
                value: weights_name(w).into(),
                label: wording.text(&format!("dash_weights_{}", weights_name(w)), &[]),
                selected: w == options.weights,
            })
            .collect(),
        sources: Source::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().into(),
                label: wording.text(&format!("dash_source_{}", s.as_str()), &[]),
                selected: current.selection.sources.contains(s),
            })
            .collect(),
        groupings: definition
            .survey
            .questions
            .iter()
            .filter(|q| q.dimension.is_none() && matches!(q.kind, QuestionKind::SingleChoice { .. }))
            .map(|q| Choice {
                value: q.id.to_string(),
                label: q.text.get(wording.lang()).to_string(),
                selected: q.id.as_str() == options.by(),
            })
            .collect(),
        levels: LEVELS
            .iter()
            .map(|l| Choice {
                value: l.to_string(),
                label: format!("{:.0}%", l * 100.0),
                selected: (*l - options.level).abs() < 1e-9,
            })
            .collect(),
        exclusions: Flag::ALL
            .iter()
            .map(|f| Choice {
                value: f.as_str().into(),
                label: wording.text(&format!("dash_flag_{}", f.as_str()), &[]),
                selected: options.exclude.has(*f),
            })
            .collect(),
    })
}
