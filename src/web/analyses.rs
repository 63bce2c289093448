//! Every index computation of the server goes through here: the API, the
//! dashboard and the yearly report ask [`cached_indices`] (or
//! [`cached_compare`]), which serves a kept report while the survey's data
//! generation is unchanged, and otherwise computes it once for everyone
//! asking, under the server's one bound on computations at once
//! (`AppState::analyses`): a crowd opening pages waits in line instead of
//! starting a thread pool each.

use super::AppState;
use crate::analysis::cache::{CacheKey, CacheStats, ResultCache};
use crate::analysis::{self, AnalysisError, CompareReport, IndexOptions, IndexReport};
use crate::stats::DfRule;
use actix_web::web;
use std::sync::Arc;

/// Why a report could not be had. Cloneable, so that every request that
/// waited for one computation gets its answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AnalysisFailure {
    /// The analysis itself refused or failed (the caller's options, the data).
    #[error(transparent)]
    Analysis(Arc<AnalysisError>),
    /// Too many computations are waiting already: try again shortly.
    #[error("too many analyses are waiting; try again in a few seconds")]
    Busy,
    /// The computation ended without an answer (its thread failed).
    #[error("the analysis stopped without an answer: {0}")]
    Stopped(String),
}

impl From<AnalysisError> for AnalysisFailure {
    fn from(e: AnalysisError) -> AnalysisFailure {
        AnalysisFailure::Analysis(Arc::new(e))
    }
}

/// The HTTP status an analysis error answers with, for the API and the
/// dashboard alike: nothing to analyse is 404, a failed database 500,
/// and anything the options or data make impossible 422.
pub fn status_of(e: &AnalysisError) -> actix_web::http::StatusCode {
    use actix_web::http::StatusCode;
    match e {
        AnalysisError::UnknownSurvey(_) | AnalysisError::NoResponses { .. } => StatusCode::NOT_FOUND,
        AnalysisError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The server's kept reports.
pub type Results = ResultCache<AnalysisFailure>;

/// What the server's computations have done: the cache's counts and the
/// bound on computations at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisStats {
    pub cache: CacheStats,
    /// Computations that may run at once.
    pub bound: usize,
    /// The most that ever ran at once.
    pub most_at_once: usize,
}

impl AppState {
    pub fn analysis_stats(&self) -> AnalysisStats {
        AnalysisStats {
            cache: self.results.stats(),
            bound: self.analyses.size(),
            most_at_once: self.analyses.most_at_once(),
        }
    }
}

/// Run a computation on the blocking pool once one of the server's
/// analysis turns is free. The turn moves onto the worker thread and ends
/// with the computation, so the bound counts what really runs.
pub async fn compute<T: Send + 'static>(
    state: &web::Data<AppState>,
    analysis: impl FnOnce(&AppState) -> Result<T, AnalysisError> + Send + 'static,
) -> Result<T, AnalysisFailure> {
    let turn = state.analyses.enter().await.map_err(|_| AnalysisFailure::Busy)?;
    let state = state.clone();
    let result = web::block(move || {
        let _turn = turn;
        analysis(&state)
    })
    .await
    .map_err(|e| AnalysisFailure::Stopped(e.to_string()))?;
    Ok(result?)
}

/// The indices of `slug` with `options`: kept ones while the data are
/// unchanged (one query reads the data generation), else computed once
/// under the bound.
pub async fn cached_indices(
    state: &web::Data<AppState>,
    slug: &str,
    options: &IndexOptions,
) -> Result<Arc<IndexReport>, AnalysisFailure> {
    let generation = {
        let (state, slug) = (state.clone(), slug.to_string());
        web::block(move || state.db.data_generation(&slug))
            .await
            .map_err(|e| AnalysisFailure::Stopped(e.to_string()))?
            .map_err(AnalysisError::from)?
    };
    let key = CacheKey::new(slug, options, &generation);
    state
        .results
        .get_or_compute(key, || {
            let (slug, options) = (slug.to_string(), options.clone());
            async move {
                let started = std::time::Instant::now();
                let wave = options.wave.map_or("latest".to_string(), |w| w.to_string());
                let what = format!("indices of {slug} wave {wave}");
                let report = compute(state, move |s| {
                    analysis::indices(&s.db, &s.current_surveys(), &slug, &options)
                })
                .await;
                log::info!(
                    "{what}: {} in {} ms (data generation {generation})",
                    if report.is_ok() { "computed" } else { "failed" },
                    started.elapsed().as_millis()
                );
                report
            }
        })
        .await
}

/// Two waves compared, each wave's indices from [`cached_indices`].
pub async fn cached_compare(
    state: &web::Data<AppState>,
    slug: &str,
    from: i32,
    to: i32,
    options: &IndexOptions,
    rule: DfRule,
) -> Result<CompareReport, AnalysisFailure> {
    let (earlier, later) = analysis::compare_options(from, to, options)?;
    // Both at once (each takes its own turn), but the earlier wave's
    // failure is the one told, as when they ran one after the other.
    let (earlier, later) = futures_util::future::join(
        cached_indices(state, slug, &earlier),
        cached_indices(state, slug, &later),
    )
    .await;
    let (earlier, later) = (earlier?, later?);
    Ok(analysis::compare_reports(
        &earlier,
        &later,
        &state.current_surveys(),
        slug,
        options.level,
        rule,
    )?)
}
