//! The statistics engine of civicpulse: pure functions from columnar,
//! integer-coded survey data to published figures, following
//! `docs/statistics.md` (the statistical contract) and matching R's `survey`
//! package (see `tests/reference/`).
//!
//! Pipeline:
//! 1. [`scores`]: option codes → item scores (0–100, `NaN` missing) and
//!    top-two-box indicators; dimension and overall composites.
//! 2. [`design`]: [`Design::unweighted`] (weights `none`), [`Design::new`]
//!    (weights `design`: validated weights, strata, PSUs), then optionally
//!    [`Design::rake`] (weights `raked`, [`rake`]) or
//!    [`Design::rake_bounded`] (raked within bounds on the factors).
//! 3. [`estimate`]: [`estimate_all`] computes every row (whole sample, then
//!    each group) with linearised SEs, t / logit CIs, n_eff, suppression and
//!    precision flags; [`estimate()`] computes a single figure.
//!    [`sufficient`] computes the same figures from sums per group of
//!    respondents (what PostgreSQL sends instead of the rows).
//! 4. [`bootstrap()`]: Rao–Wu rescaling bootstrap SEs (second method).
//! 5. [`compare`]: two waves.
//! 6. [`suppression`]: small cells withheld, and the complements that keep
//!    them from being recovered by subtraction.
//!
//! No I/O, no logging, no global state.

// Index loops over parallel columns read better than zipped iterators here.
#![allow(clippy::needless_range_loop)]

pub mod bootstrap;
pub mod cancel;
pub mod compare;
pub mod design;
pub mod dist;
pub mod error;
pub mod estimate;
pub mod rake;
pub mod scores;
pub mod sufficient;
pub mod summation;
pub mod suppression;

#[cfg(test)]
mod tests;

pub use bootstrap::{
    bootstrap, bootstrap_all, BootstrapOptions, BootstrapRow, BootstrapRun, BootstrapSummary, BootstrapTask,
    BOOTSTRAP_METHOD,
};
pub use cancel::Cancel;
pub use compare::{compare, compare_values, Comparison, DfRule};
pub use design::{validate_weights, Design, DesignSpec, LonelyPsu, WeightMode};
pub use error::StatsError;
pub use estimate::{
    distributions, estimate, estimate_all, estimate_columns, estimate_items_coded, finish_estimate, population_totals,
    with_standard_error, CiUnavailable, CodedAnswers, CodedItem, Column, DomainStats, Estimate, EstimateOptions,
    Grouping, Kind, Level, OptionShare, Row, Statistic, Variable, TOTAL_CV_LIMIT,
};
pub use rake::{Margin, RakeOptions, RakingDiagnostics, RakingMethod, WeightBounds};
pub use scores::{
    column_from_options, column_to_options, composites, composites_coded, likert_option_scores, score_codes,
    top_two_options, weighted_row_mean, Composites, DimensionSpec, ItemScores,
};
pub use sufficient::{MomentSums, Moments, SufficientDesign, SufficientSpec, Unit};
pub use suppression::{protect_suppressed_cells, Cell, GROUP_SEPARATOR};
