//! The fieldwork figures of a wave, gathered from storage for
//! `fieldwork::figures` to compute.

use super::load::{choice_column, flags_of, load_wave};
use super::options::{AnalysisError, IndexOptions, SourceChoice};
use crate::db::Database;
use crate::fieldwork::figures::{fieldwork_report, FieldworkReport, FlagCounts, SourceCounts, StratumCounts};
use crate::fieldwork::wave::{Access, DEFAULT_STRATUM_QUESTION};
use crate::fieldwork::{CurrentWave, Source};
use crate::registry::SurveyRegistry;

/// Fieldwork of `wave` (default: the survey's current wave on `today`, the
/// city's date from `clock::CityClock::today`, as residents' pages choose
/// it) of `slug`.
pub fn fieldwork(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    wave: Option<i32>,
    today: time::Date,
) -> Result<FieldworkReport, AnalysisError> {
    let latest = registry
        .latest(slug)
        .ok_or_else(|| AnalysisError::UnknownSurvey(slug.to_string()))?;
    let wave = match wave {
        Some(w) => w,
        None => CurrentWave::choose(&db.wave_settings(slug)?, today).wave(),
    };
    let settings = db.wave(slug, wave)?;
    let access = settings.as_ref().map_or(Access::Open, |s| s.access);
    let question = settings
        .as_ref()
        .map_or(DEFAULT_STRATUM_QUESTION.to_string(), |s| s.stratum_question.clone());

    let mut strata: Vec<StratumCounts> = db
        .frame(slug, wave)?
        .into_iter()
        .map(|s| StratumCounts {
            stratum: s.stratum,
            population: Some(s.population),
            ..StratumCounts::default()
        })
        .collect();
    fn entry<'a>(strata: &'a mut Vec<StratumCounts>, name: &str) -> &'a mut StratumCounts {
        match strata.iter().position(|s| s.stratum == name) {
            Some(i) => &mut strata[i],
            None => {
                strata.push(StratumCounts {
                    stratum: name.to_string(),
                    ..StratumCounts::default()
                });
                strata.last_mut().expect("just pushed")
            }
        }
    }
    for (stratum, n) in db.invited_per_stratum(slug, wave)? {
        entry(&mut strata, &stratum).invited = n.max(0) as u64;
    }

    let mut responses = SourceCounts::default();
    for (source, n) in db.source_counts(slug, wave)? {
        match source {
            Source::Web => responses.web = n,
            Source::Invited => responses.invited = n,
            Source::Import => responses.import = n,
        }
    }
    let facts = db.response_facts(slug, wave)?;
    let mut flags = FlagCounts::default();
    for (fact, fact_flags) in facts.iter().zip(flags_of(&facts)) {
        fact_flags.iter().for_each(|f| flags.add(f));
        if fact.source == Source::Invited {
            let s = entry(&mut strata, fact.stratum.as_deref().unwrap_or(""));
            s.completed += 1;
            s.completion_seconds.extend(fact.duration_seconds);
        }
    }

    // Open-link answers count in the stratum they name, when the stratum
    // question is one of the survey's choice questions.
    if responses.web > 0 && latest.survey.question(&question).is_some() {
        let options = IndexOptions {
            wave: Some(wave),
            sources: Some(SourceChoice {
                sources: vec![Source::Web],
                batches: Vec::new(),
            }),
            ..IndexOptions::default()
        };
        let web = load_wave(db, registry, slug, &options)?;
        let values: Vec<String> = latest
            .survey
            .question(&question)
            .map(|q| q.kind.options().iter().map(|o| o.value.to_string()).collect())
            .unwrap_or_default();
        for code in choice_column(web.definition, &question, &web).into_iter().flatten() {
            if let Some(value) = values.get(code as usize) {
                entry(&mut strata, value).open_link += 1;
            }
        }
    }
    Ok(fieldwork_report(
        slug,
        wave,
        access.as_str(),
        &question,
        &strata,
        responses,
        flags,
    ))
}
