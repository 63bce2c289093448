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
use crate::stats::{Cancel, DfRule, StatsError};
use actix_web::web;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The computation ran past the server's time limit (seconds) and was stopped.
    #[error("the analysis took longer than the server allows ({0} s) and was stopped; ask for fewer replicates or a smaller grouping")]
    TimedOut(u64),
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
    /// Stopped at the time limit (`--analysis-timeout`).
    pub timed_out: u64,
    /// Stopped because their client went away.
    pub cancelled: u64,
}

impl AppState {
    pub fn analysis_stats(&self) -> AnalysisStats {
        AnalysisStats {
            cache: self.results.stats(),
            bound: self.analyses.size(),
            most_at_once: self.analyses.most_at_once(),
            timed_out: self.analysis_counts.timed_out.load(Ordering::Relaxed),
            cancelled: self.analysis_counts.cancelled.load(Ordering::Relaxed),
        }
    }
}

/// Run a computation on the blocking pool once one of the server's
/// analysis turns is free. The turn moves onto the worker thread and ends
/// with the computation, so the bound counts what really runs.
///
/// The computation gets a [`Cancel`] that stops it after the server's time
/// limit (`--analysis-timeout`), or as soon as this future is dropped: a
/// client that goes away (actix-web drops its request's future) stops the
/// work it asked for instead of leaving it to hold a thread and a turn.
pub async fn compute<T: Send + 'static>(
    state: &web::Data<AppState>,
    analysis: impl FnOnce(&AppState, &Cancel) -> Result<T, AnalysisError> + Send + 'static,
) -> Result<T, AnalysisFailure> {
    let turn = state.analyses.enter().await.map_err(|_| AnalysisFailure::Busy)?;
    let limit = state.analysis_timeout;
    let cancel = Cancel::new(Some(std::time::Instant::now() + limit));
    let mut on_drop = CancelOnDrop(Some(cancel.clone()));
    let worker = state.clone();
    let handle = cancel.clone();
    let result = web::block(move || {
        let _turn = turn;
        let result = analysis(&worker, &handle);
        if matches!(result, Err(AnalysisError::Stats(StatsError::Cancelled))) && !handle.timed_out() {
            // Its request is gone: no one else will count it.
            worker.analysis_counts.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        result
    })
    .await
    .map_err(|e| AnalysisFailure::Stopped(e.to_string()))?;
    on_drop.0 = None;
    match result {
        Ok(value) => Ok(value),
        Err(AnalysisError::Stats(StatsError::Cancelled)) if cancel.timed_out() => {
            state.analysis_counts.timed_out.fetch_add(1, Ordering::Relaxed);
            Err(AnalysisFailure::TimedOut(limit.as_secs()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Cancels its computation when dropped while still armed.
struct CancelOnDrop(Option<Cancel>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.cancel();
            log::info!("an analysis was cancelled: its client went away");
        }
    }
}

/// Analyses stopped before they finished, since the server started.
#[derive(Debug, Default)]
pub struct AnalysisCounts {
    /// Stopped at the time limit.
    pub timed_out: AtomicU64,
    /// Stopped because their client went away.
    pub cancelled: AtomicU64,
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
                let report = compute(state, move |s, cancel| {
                    analysis::indices_until(&s.db, &s.current_surveys(), &slug, &options, cancel)
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
