//! Errors of the statistics engine.

use thiserror::Error;

/// Everything that can go wrong in the statistics engine. Messages name the
/// respondent, stratum, margin or category concerned so that a statistician
/// can fix the input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// A weight is zero, negative, not finite or missing.
    #[error("respondent {index}{} has an invalid weight ({reason}); every respondent needs a finite weight greater than 0", fmt_id(.id))]
    InvalidWeight {
        /// 0-based position of the respondent in the input.
        index: usize,
        /// External respondent id, when the caller supplied one.
        id: Option<String>,
        /// What is wrong ("missing", "zero", "negative: -1", "NaN", …).
        reason: String,
    },
    /// Input columns of different lengths.
    #[error("{what} has {got} values but there are {expected} respondents")]
    LengthMismatch {
        /// Which input.
        what: String,
        /// Number of respondents.
        expected: usize,
        /// Number of values given.
        got: usize,
    },
    /// The computation was cancelled (its client went away) or ran past
    /// its deadline ([`crate::stats::Cancel`]).
    #[error("the computation was stopped before it finished")]
    Cancelled,
    /// The data set has no respondents.
    #[error("the sample has no respondents")]
    EmptySample,
    /// A stratum contains a single PSU, so its variance cannot be estimated.
    #[error("{} has only one primary sampling unit (PSU); its variance cannot be estimated: merge it with a neighbouring stratum, or choose how to treat it with --lonely-psu remove|certainty|adjust|average", stratum_label(stratum))]
    SinglePsuStratum {
        /// Name of the stratum.
        stratum: String,
    },
    /// A PSU appears in more than one stratum (PSUs must be nested in strata).
    #[error("PSU {psu} appears in strata '{first}' and '{second}'; PSUs must be nested within strata (use globally unique PSU ids)")]
    PsuNotNested {
        /// PSU index as supplied.
        psu: u32,
        /// First stratum the PSU was seen in.
        first: String,
        /// Another stratum it also appears in.
        second: String,
    },
    /// A stratum index has no name (index beyond the supplied names).
    #[error("respondent {index} has stratum index {stratum} but only {names} stratum names were given")]
    UnknownStratum {
        /// Respondent position.
        index: usize,
        /// Stratum index.
        stratum: u32,
        /// Number of names.
        names: usize,
    },
    /// A respondent's margin category code is out of range.
    #[error(
        "respondent {index} has category code {code} in margin '{margin}', which has only {categories} categories"
    )]
    UnknownCategory {
        /// Respondent position.
        index: usize,
        /// Margin name.
        margin: String,
        /// Code found.
        code: u32,
        /// Number of categories of the margin.
        categories: usize,
    },
    /// A category observed in the sample has no population total.
    #[error("raking: sample category '{category}' of margin '{margin}' has no population total (the population margins lack it)")]
    CategoryNotInPopulation {
        /// Margin (question) name.
        margin: String,
        /// Category (value) name.
        category: String,
    },
    /// A population category has no respondents.
    #[error("raking: population category '{category}' of margin '{margin}' has no respondents in the sample, so it cannot be calibrated")]
    CategoryNotInSample {
        /// Margin (question) name.
        margin: String,
        /// Category (value) name.
        category: String,
    },
    /// A population total is not a positive finite number.
    #[error("raking: population total of category '{category}' of margin '{margin}' is {total}; it must be finite and greater than 0")]
    InvalidPopulationTotal {
        /// Margin name.
        margin: String,
        /// Category name.
        category: String,
        /// Total found.
        total: f64,
    },
    /// Two margins have different population grand totals.
    #[error("raking: the population totals of margin '{first}' sum to {first_total} but those of margin '{other}' sum to {other_total}; margins must describe the same population")]
    InconsistentMargins {
        /// First margin.
        first: String,
        /// Its grand total.
        first_total: f64,
        /// Margin that disagrees.
        other: String,
        /// Its grand total.
        other_total: f64,
    },
    /// Raking did not converge.
    #[error("raking did not converge after {sweeps} sweeps (largest change of a joint-table cell in the last sweep: {last_change:e}, tolerance {tolerance:e}); the margins may be contradictory")]
    RakingDidNotConverge {
        /// Sweeps done.
        sweeps: usize,
        /// Largest cell change in the last sweep.
        last_change: f64,
        /// Tolerance (epsilon × Σ design weights).
        tolerance: f64,
    },
    /// Raking stopped with a margin it does not meet.
    #[error(
        "raking does not meet its margins: category '{category}' of margin '{margin}' reaches {achieved} where the \
         population total is {target} (relative error {relative:e}, tolerance {tolerance:e}); the margins cannot all \
         hold on this sample (look for empty combinations of categories)"
    )]
    RakingMissesMargin {
        margin: String,
        category: String,
        target: f64,
        achieved: f64,
        relative: f64,
        tolerance: f64,
    },
    /// Bounded raking cannot meet a margin within its bounds.
    #[error(
        "raking: weights bounded to [{lower}, {upper}] × design weight cannot meet margin {margin}={category}: the \
         population total is {target}, the closest the bounded weights come is {achieved} ({}); widen the bounds or \
         collapse categories",
        fmt_iterations(*.iterations)
    )]
    BoundsInfeasible {
        margin: String,
        category: String,
        /// Bounds on final / design weight.
        lower: f64,
        upper: f64,
        target: f64,
        /// The category's total with the weights where the solver stopped
        /// (or, when the bounds alone rule the target out, the nearest
        /// total they allow).
        achieved: f64,
        /// Newton iterations done (0: the bounds alone rule it out).
        iterations: usize,
    },
    /// Too many bootstrap replicates could not be calibrated and were drawn
    /// again.
    #[error(
        "bootstrap: {redrawn} draws of the {replicates} replicates could not be calibrated and were drawn again (at \
         most {limit} allowed), most often because of raking category {category} ({reason}); collapse it with a \
         neighbouring category{hint}, or use the linearised variance"
    )]
    BootstrapTooManyRedraws {
        /// `margin=category` that caused most redraws.
        category: String,
        /// What went wrong for it.
        reason: String,
        /// Hint specific to the cause ("" or ", widen the weight bounds").
        hint: String,
        redrawn: usize,
        replicates: usize,
        limit: usize,
    },
    /// One bootstrap replicate could not be calibrated in any of its draws.
    #[error(
        "bootstrap: replicate {replicate} could not be calibrated in {attempts} draws in a row (last: raking \
         category {category}, {reason}); collapse the category with a neighbouring one{hint}, or use the linearised \
         variance"
    )]
    BootstrapReplicateFails {
        /// 1-based replicate number.
        replicate: usize,
        attempts: usize,
        category: String,
        reason: String,
        hint: String,
    },
    /// Invalid argument (confidence level, replicate count, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A value (score) is not usable.
    #[error("variable '{variable}': respondent {index} has the value {value}, which is not a finite number")]
    InvalidValue {
        /// Variable id.
        variable: String,
        /// Respondent position.
        index: usize,
        /// Offending value.
        value: f64,
    },
    /// A comparison needs two published estimates.
    #[error("cannot compare: {0}")]
    NotComparable(String),
}

fn fmt_iterations(iterations: usize) -> String {
    match iterations {
        0 => "the bounds alone rule it out".into(),
        k => format!("after {k} Newton iterations"),
    }
}

fn fmt_id(id: &Option<String>) -> String {
    match id {
        Some(s) => format!(" (id '{s}')"),
        None => String::new(),
    }
}

/// A stratum as messages name it; respondents without one (open-link
/// answers in a wave without a frame) share the stratum with no name.
fn stratum_label(stratum: &str) -> String {
    if stratum.is_empty() {
        "the stratum of respondents without one (open-link answers)".into()
    } else {
        format!("stratum '{stratum}'")
    }
}
