//! Calibration of the design weights to population margins, and the
//! structures the post-calibration variance needs (docs/statistics.md §5).
//!
//! Both methods work on the joint table of all margin variables: every
//! respondent of a joint cell k gets the same factor, so the final weight is
//! `w_i = d_i · g_k(i)` (d the design weight) and a solve costs O(cells), not
//! O(respondents). They share the checks of the margins, the joint table and
//! the variance structures.
//!
//! * [`Design::rake`], R's `rake()`: iterative proportional fitting, sweeping
//!   the margins in order. Convergence: the largest change of any joint-table
//!   cell between two sweeps is below `epsilon · Σ d` (as R's `rake()`), at
//!   most `max_sweeps` sweeps. Variance: R's raking branch of `svyrecvar`,
//!   10 rounds of per-margin centring with plain category means
//!   ([`Calibration::alpha`]).
//! * [`Design::rake_bounded`], R's `calibrate(calfun = "raking", bounds =
//!   c(L, U))`: `g_k = clip(exp(m_kᵀη), L, U)` with m_k the model row of the
//!   cell (every category of the first margin, which spans the intercept,
//!   and the non-reference categories of the others). Newton steps on η use
//!   the Jacobian `Σ_k D_k exp(u_k) m_k m_kᵀ` over the unclipped cells (the
//!   derivative consistent with the clipping; R's own `cal.raking` tests u
//!   against the wrong interval and often fails to converge), with the step
//!   halved until the dual objective or the misfit decreases; it stops when
//!   `max_j |T_j − Σ_k D_k g_k m_kj| / (1 + |T_j|) < 1e-13`. Variance:
//!   calibrate's regression residual `z̃ = z − w ⊙ Mβ`,
//!   `β = (MᵀDM)⁻¹ Mᵀ(z ⊘ g)` with the design weights in D.

use std::collections::HashMap;

use super::design::{Design, WeightMode};
use super::error::StatsError;
use super::summation::NeumaierSum;

/// One population margin (e.g. district) and the respondents' categories.
#[derive(Debug, Clone, PartialEq)]
pub struct Margin {
    /// Margin (question) name, used in messages.
    pub name: String,
    /// Category (value) names by code.
    pub categories: Vec<String>,
    /// Category code of every respondent (index into `categories`).
    pub codes: Vec<u32>,
    /// Population total per category; `None` when the population margins
    /// lack the category.
    pub totals: Vec<Option<f64>>,
}

/// Raking control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RakeOptions {
    /// Maximum number of sweeps over the margins (default 1000).
    pub max_sweeps: usize,
    /// Relative convergence tolerance (default 1e-12, times Σ design weights).
    pub epsilon: f64,
    /// Largest allowed relative difference between the grand totals of two
    /// margins (default 1e-6). Margins with different totals cannot all
    /// hold; IPF would silently end on the last margin's total.
    pub max_total_discrepancy: f64,
    /// Largest relative difference between a category's raked total and
    /// its population total once raking has stopped (default 1e-6). More
    /// is an error, never a silent result.
    pub margin_tolerance: f64,
}

/// Bounds on the raking factor g = final weight / design weight, as R's
/// `calibrate(..., bounds = c(lower, upper))`: `0 < lower ≤ 1 ≤ upper`,
/// `lower < upper`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WeightBounds {
    pub lower: f64,
    pub upper: f64,
}

/// How the raked weights were solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RakingMethod {
    /// Iterative proportional fitting ([`Design::rake`]).
    Ipf,
    /// Bounded raking by Newton steps ([`Design::rake_bounded`]).
    Bounded,
}

/// What a raking did, for every output that rakes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RakingDiagnostics {
    /// IPF sweeps, or Newton iterations for bounded raking.
    pub sweeps: usize,
    pub converged: bool,
    /// Largest |raked total − population total| / population total over
    /// every category of every margin.
    pub max_margin_error: f64,
    /// The margin and category where that error is.
    pub worst_category: String,
    pub weight_min: f64,
    pub weight_max: f64,
    /// Coefficient of variation of the raked weights (sd with n − 1, over the mean).
    pub weight_cv: f64,
    /// Range of the adjustment factors raked / design weight.
    pub factor_min: f64,
    pub factor_max: f64,
    pub method: RakingMethod,
    /// `[lower, upper]` bounds on the factor (bounded raking).
    pub bounds: Option<[f64; 2]>,
    /// Respondents whose factor sits at the lower / upper bound (0 without bounds).
    pub at_lower: usize,
    pub at_upper: usize,
}

impl Default for RakeOptions {
    fn default() -> Self {
        RakeOptions {
            max_sweeps: 1000,
            epsilon: 1e-12,
            max_total_discrepancy: 1e-6,
            margin_tolerance: 1e-6,
        }
    }
}

impl WeightBounds {
    /// Validated bounds.
    pub fn new(lower: f64, upper: f64) -> Result<WeightBounds, StatsError> {
        let b = WeightBounds { lower, upper };
        b.validate()?;
        Ok(b)
    }

    pub(super) fn validate(&self) -> Result<(), StatsError> {
        let WeightBounds { lower, upper } = *self;
        // g = 1 (the design weights) must lie within the bounds: it is where
        // the solver starts, and bounds that exclude it would move weights
        // even for margins the design already meets.
        if lower > 0.0 && lower <= 1.0 && upper >= 1.0 && upper.is_finite() && lower < upper {
            Ok(())
        } else {
            Err(StatsError::InvalidArgument(format!(
                "weight bounds [{lower}, {upper}] must satisfy 0 < lower <= 1 <= upper < infinity and lower < upper \
                 (they bound final weight / design weight)"
            )))
        }
    }
}

/// Margin metadata kept for messages.
#[derive(Debug, Clone)]
pub(super) struct MarginInfo {
    pub name: String,
    pub categories: Vec<String>,
}

/// Joint table of all margin variables.
#[derive(Debug, Clone)]
pub(super) struct Cells {
    /// Joint cell of each respondent.
    pub cell: Vec<u32>,
    /// Number of cells (observed combinations).
    pub k: usize,
    /// Flat category index (offset[m] + code) of each cell for each margin,
    /// `k × m` row-major.
    pub flat: Vec<u32>,
}

/// How the linearised values are adjusted for the calibration.
#[derive(Debug, Clone)]
pub(super) enum CalibrationVariance {
    /// R's `rake()`: per-margin centring with plain category means.
    Rake {
        /// Respondents per flat category.
        cat_count: Vec<f64>,
        /// Cross counts between flat categories (`n_flat × n_flat`).
        cross: Vec<f64>,
    },
    /// R's `calibrate()`: residual of the design-weighted regression on the
    /// model columns.
    Regression {
        columns: ModelColumns,
        /// Factorisation of `MᵀDM` (Σ design weights per pair of columns).
        cross_d: PivotedCholesky,
    },
}

/// Everything the variance and the bootstrap need about a raking.
#[derive(Debug, Clone)]
pub(super) struct Calibration {
    pub base_weights: Vec<f64>,
    pub options: RakeOptions,
    /// Bounds of a bounded raking (replicates are solved with them too).
    pub bounds: Option<WeightBounds>,
    pub margins: Vec<MarginInfo>,
    /// Flat-category offsets: category c of margin m is `offsets[m] + c`.
    pub offsets: Vec<usize>,
    pub n_flat: usize,
    /// Population totals by flat category (NaN: none).
    pub targets: Vec<f64>,
    pub cells: Cells,
    /// Final weight / design weight of each joint cell (every respondent
    /// of a cell gets the same factor).
    pub cell_factor: Vec<f64>,
    pub sweeps: usize,
    pub diagnostics: RakingDiagnostics,
    pub variance: CalibrationVariance,
    /// Σ final w per (PSU, flat category), clustered designs (`P × n_flat`).
    pub psu_cat_w: Vec<f64>,
    /// Σ w and Σ w² per (stratum, cell), unclustered designs (`H × k`).
    pub stratum_cell_w: Vec<f64>,
    pub stratum_cell_w2: Vec<f64>,
}

/// Build the joint cells of the margins.
fn joint_cells(codes: &[&[u32]], offsets: &[usize], n: usize) -> Result<Cells, StatsError> {
    let m = codes.len();
    let mut radix: Vec<u64> = Vec::with_capacity(m);
    let mut prod: u64 = 1;
    for w in offsets.windows(2) {
        radix.push(prod);
        prod = prod
            .checked_mul((w[1] - w[0]).max(1) as u64)
            .ok_or_else(|| StatsError::InvalidArgument("too many combinations of margin categories".into()))?;
    }
    let key = |i: usize| -> u64 {
        let mut k = 0u64;
        for (j, c) in codes.iter().enumerate() {
            k += c[i] as u64 * radix[j];
        }
        k
    };
    let mut cell = Vec::with_capacity(n);
    let mut flat: Vec<u32> = Vec::new();
    let push_flat = |i: usize, flat: &mut Vec<u32>| {
        for (j, c) in codes.iter().enumerate() {
            flat.push((offsets[j] + c[i] as usize) as u32);
        }
    };
    if prod <= (1u64 << 22).max(n as u64) {
        let mut table = vec![u32::MAX; prod as usize];
        let mut k = 0u32;
        for i in 0..n {
            let t = &mut table[key(i) as usize];
            if *t == u32::MAX {
                *t = k;
                k += 1;
                push_flat(i, &mut flat);
            }
            cell.push(*t);
        }
        Ok(Cells {
            cell,
            k: k as usize,
            flat,
        })
    } else {
        let mut table: HashMap<u64, u32> = HashMap::new();
        for i in 0..n {
            let next = table.len() as u32;
            let t = *table.entry(key(i)).or_insert(next);
            if t == next {
                push_flat(i, &mut flat);
            }
            cell.push(t);
        }
        let k = table.len();
        let _ = m;
        Ok(Cells { cell, k, flat })
    }
}

/// IPF on cell totals. `cell_w0`: Σ design weights per cell; returns the
/// per-cell factors and the number of sweeps.
pub(super) fn ipf_cells(
    cell_w0: &[f64],
    cells_flat: &[u32],
    n_margins: usize,
    offsets: &[usize],
    targets: &[f64],
    margins: &[MarginInfo],
    options: &RakeOptions,
) -> Result<(Vec<f64>, usize), StatsError> {
    let k = cell_w0.len();
    let n_flat = targets.len();
    let mut total = NeumaierSum::ZERO;
    for &w in cell_w0 {
        total.add(w);
    }
    let tol = options.epsilon * total.value();
    let mut f = vec![1.0; k];
    let mut old: Vec<f64> = cell_w0.to_vec();
    let mut sums = vec![NeumaierSum::ZERO; n_flat];
    let mut ratio = vec![0.0; n_flat];
    let mut delta = f64::INFINITY;
    for sweep in 1..=options.max_sweeps {
        for m in 0..n_margins {
            let (lo, hi) = (offsets[m], offsets[m + 1]);
            for s in &mut sums[lo..hi] {
                *s = NeumaierSum::ZERO;
            }
            for c in 0..k {
                sums[cells_flat[c * n_margins + m] as usize].add(f[c] * cell_w0[c]);
            }
            for j in lo..hi {
                let s = sums[j].value();
                let t = targets[j];
                ratio[j] = if t.is_nan() {
                    1.0
                } else if s > 0.0 {
                    t / s
                } else {
                    return Err(StatsError::CategoryNotInSample {
                        margin: margins[m].name.clone(),
                        category: margins[m].categories[j - lo].clone(),
                    });
                };
            }
            for c in 0..k {
                f[c] *= ratio[cells_flat[c * n_margins + m] as usize];
            }
        }
        delta = 0.0;
        for c in 0..k {
            let new = f[c] * cell_w0[c];
            delta = f64::max(delta, (new - old[c]).abs());
            old[c] = new;
        }
        if delta < tol {
            return Ok((f, sweep));
        }
    }
    Err(StatsError::RakingDidNotConverge {
        sweeps: options.max_sweeps,
        last_change: delta,
        tolerance: tol,
    })
}

/// Σ raked weight per flat category.
fn margin_totals(cell_w0: &[f64], f: &[f64], flat: &[u32], n_m: usize, n_flat: usize) -> Vec<f64> {
    let mut sums = vec![NeumaierSum::ZERO; n_flat];
    for c in 0..cell_w0.len() {
        for &a in &flat[c * n_m..(c + 1) * n_m] {
            sums[a as usize].add(f[c] * cell_w0[c]);
        }
    }
    sums.iter().map(|s| s.value()).collect()
}

/// (margin, category) with the largest relative error.
fn worst(cell_w0: &[f64], f: &[f64], flat: &[u32], n_m: usize, offsets: &[usize], targets: &[f64]) -> (usize, usize) {
    let totals = margin_totals(cell_w0, f, flat, n_m, targets.len());
    let mut best = (0, 0, -1.0);
    for m in 0..n_m {
        for a in offsets[m]..offsets[m + 1] {
            if targets[a].is_nan() {
                continue;
            }
            let e = (totals[a] - targets[a]).abs() / targets[a];
            if e > best.2 {
                best = (m, a - offsets[m], e);
            }
        }
    }
    (best.0, best.1)
}

/// `margin=category` of a flat category.
fn flat_label(offsets: &[usize], a: usize) -> (usize, usize) {
    let m = offsets
        .windows(2)
        .position(|w| a >= w[0] && a < w[1])
        .expect("flat category in range");
    (m, a - offsets[m])
}

/// What the diagnostics say about the final weights, computed from the
/// respondents ([`Design::rake`]) or from sums per unit
/// ([`super::sufficient`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct WeightSummary {
    pub min: f64,
    pub max: f64,
    /// sd (n − 1) over the mean.
    pub cv: f64,
    /// Range of raked / design weight.
    pub factor_min: f64,
    pub factor_max: f64,
    /// Respondents whose factor sits at the lower / upper bound.
    pub at_lower: usize,
    pub at_upper: usize,
}

impl WeightSummary {
    /// From every respondent's design and final weight.
    fn of_respondents(base: &[f64], weights: &[f64], cell: &[u32], f: &[f64], bounds: Option<WeightBounds>) -> Self {
        let n = weights.len() as f64;
        let mut sum = NeumaierSum::ZERO;
        weights.iter().for_each(|&w| sum.add(w));
        let mean = sum.value() / n;
        let mut ss = NeumaierSum::ZERO;
        weights.iter().for_each(|&w| ss.add((w - mean) * (w - mean)));
        let cv = if n > 1.0 {
            (ss.value() / (n - 1.0)).sqrt() / mean
        } else {
            0.0
        };
        let (mut fmin, mut fmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for (w, b) in weights.iter().zip(base) {
            let r = w / b;
            fmin = fmin.min(r);
            fmax = fmax.max(r);
        }
        let (mut at_lower, mut at_upper) = (0, 0);
        if let Some(b) = bounds {
            for &k in cell {
                let g = f[k as usize];
                at_lower += usize::from(g <= b.lower);
                at_upper += usize::from(g >= b.upper);
            }
        }
        WeightSummary {
            min: weights.iter().copied().fold(f64::INFINITY, f64::min),
            max: weights.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            cv,
            factor_min: fmin,
            factor_max: fmax,
            at_lower,
            at_upper,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn diagnose(
    cell_w0: &[f64],
    f: &[f64],
    flat: &[u32],
    n_m: usize,
    offsets: &[usize],
    targets: &[f64],
    infos: &[MarginInfo],
    summary: &WeightSummary,
    sweeps: usize,
    bounds: Option<WeightBounds>,
) -> RakingDiagnostics {
    let totals = margin_totals(cell_w0, f, flat, n_m, targets.len());
    let (m, c) = worst(cell_w0, f, flat, n_m, offsets, targets);
    let a = offsets[m] + c;
    let max_margin_error = (totals[a] - targets[a]).abs() / targets[a];
    RakingDiagnostics {
        sweeps,
        converged: true,
        max_margin_error,
        worst_category: format!("{}={}", infos[m].name, infos[m].categories[c]),
        weight_min: summary.min,
        weight_max: summary.max,
        weight_cv: summary.cv,
        factor_min: summary.factor_min,
        factor_max: summary.factor_max,
        method: if bounds.is_some() {
            RakingMethod::Bounded
        } else {
            RakingMethod::Ipf
        },
        bounds: bounds.map(|b| [b.lower, b.upper]),
        at_lower: if bounds.is_some() { summary.at_lower } else { 0 },
        at_upper: if bounds.is_some() { summary.at_upper } else { 0 },
    }
}

/// The columns of the calibration model matrix M, as flat categories:
/// every category of the first margin (together they span R's intercept)
/// and every category but the first (the reference) of each other margin,
/// leaving out categories without a population total. This is R's
/// `model.matrix(~a + b + …)` up to a change of basis, so fits, residuals
/// and solutions for the weights are the same; unlike the full set of
/// indicators it is not rank deficient by construction.
#[derive(Debug, Clone)]
pub(super) struct ModelColumns {
    pub flat_of_col: Vec<usize>,
    pub col_of_flat: Vec<Option<usize>>,
}

fn model_columns(offsets: &[usize], targets: &[f64]) -> ModelColumns {
    let mut flat_of_col = Vec::new();
    let mut col_of_flat = vec![None; targets.len()];
    for (m, w) in offsets.windows(2).enumerate() {
        let mut reference = m > 0;
        for a in w[0]..w[1] {
            if targets[a].is_nan() {
                continue;
            }
            if reference {
                reference = false;
                continue;
            }
            col_of_flat[a] = Some(flat_of_col.len());
            flat_of_col.push(a);
        }
    }
    ModelColumns {
        flat_of_col,
        col_of_flat,
    }
}

/// Pivots below this fraction of the largest diagonal entry count as zero:
/// exact dependencies leave pivots near 1e-16 of it, while a category with
/// a thousandth of the weight still has a pivot near 1e-3.
const PIVOT_TOLERANCE: f64 = 1e-12;

/// Cholesky factorisation of a symmetric positive semi-definite matrix with
/// diagonal pivoting (LAPACK's `pstrf`), stopping at its numerical rank.
/// Solving gives the basic solution, 0 in the dependent columns, which
/// solves `Ax = b` whenever b is in the range of A; for normal equations
/// every solution gives the same fit, as R's pivoted QR does.
#[derive(Debug, Clone)]
pub(super) struct PivotedCholesky {
    n: usize,
    rank: usize,
    perm: Vec<usize>,
    /// Lower factor in pivoted order, `n × n` row-major.
    l: Vec<f64>,
}

impl PivotedCholesky {
    fn factor(a: &[f64], n: usize) -> PivotedCholesky {
        let mut m = a.to_vec();
        let mut perm: Vec<usize> = (0..n).collect();
        let largest = (0..n).map(|i| a[i * n + i]).fold(0.0, f64::max);
        let tol = PIVOT_TOLERANCE * largest;
        let mut rank = 0;
        for j in 0..n {
            let mut p = j;
            for i in j + 1..n {
                if m[i * n + i] > m[p * n + p] {
                    p = i;
                }
            }
            let d = m[p * n + p];
            // NaN pivots (from non-finite input) stop the factorisation too.
            if d.is_nan() || d <= tol {
                break;
            }
            if p != j {
                perm.swap(j, p);
                for c in 0..n {
                    m.swap(j * n + c, p * n + c);
                }
                for r in 0..n {
                    m.swap(r * n + j, r * n + p);
                }
            }
            let ljj = d.sqrt();
            m[j * n + j] = ljj;
            for i in j + 1..n {
                m[i * n + j] /= ljj;
            }
            for i in j + 1..n {
                let li = m[i * n + j];
                for c in j + 1..n {
                    m[i * n + c] -= li * m[c * n + j];
                }
            }
            rank += 1;
        }
        PivotedCholesky { n, rank, perm, l: m }
    }

    /// Columns left out as dependent.
    fn dropped(&self) -> &[usize] {
        &self.perm[self.rank..]
    }

    fn solve(&self, b: &[f64]) -> Vec<f64> {
        let (n, r, l) = (self.n, self.rank, &self.l);
        let mut y: Vec<f64> = (0..r).map(|j| b[self.perm[j]]).collect();
        for j in 0..r {
            let mut s = y[j];
            for c in 0..j {
                s -= l[j * n + c] * y[c];
            }
            y[j] = s / l[j * n + j];
        }
        for j in (0..r).rev() {
            let mut s = y[j];
            for i in j + 1..r {
                s -= l[i * n + j] * y[i];
            }
            y[j] = s / l[j * n + j];
        }
        let mut x = vec![0.0; n];
        for j in 0..r {
            x[self.perm[j]] = y[j];
        }
        x
    }
}

/// Stop when every model total is met to this relative misfit
/// `|T_j − Σ_k D_k g_k m_kj| / (1 + |T_j|)` (SPEC §8 recommends 1e-13; R's
/// own solver at that epsilon reaches the same weights to 3.3e-13).
const NEWTON_TOLERANCE: f64 = 1e-13;
/// Newton converges in a handful of iterations when the bounds are
/// feasible (6 on the 2026 reference data); reaching this many means they
/// are not.
const NEWTON_MAX_ITERATIONS: usize = 100;
const MAX_HALVINGS: usize = 50;

/// `∫_u^v clip(exp(s), L, U) ds`, the change of the dual objective's
/// per-cell term, computed piece by piece so that small steps keep their
/// precision.
fn psi_diff(u: f64, v: f64, bounds: WeightBounds, log_l: f64, log_u: f64) -> f64 {
    if v < u {
        return -psi_diff(v, u, bounds, log_l, log_u);
    }
    let mut s = 0.0;
    let (a, b) = (u.min(log_l), v.min(log_l));
    if b > a {
        s += bounds.lower * (b - a);
    }
    let (a, b) = (u.clamp(log_l, log_u), v.clamp(log_l, log_u));
    if b > a {
        s += a.exp() * (b - a).exp_m1();
    }
    let (a, b) = (u.max(log_u), v.max(log_u));
    if b > a {
        s += bounds.upper * (b - a);
    }
    s
}

/// Bounded raking on cell totals: `cell_w0` holds Σ design weights per
/// cell. Returns the factor g_k of every cell and the Newton iterations.
///
/// The solution minimises the convex dual `Σ_k D_k ψ(m_kᵀη) − ηᵀT` with
/// `ψ' = clip(exp, L, U)`, whose gradient is minus the misfit. A step is
/// accepted when it lowers the dual (Armijo) or the misfit (sum of squares,
/// each scaled by 1 + |T_j|); the first keeps the iteration going where
/// clipping makes the misfit flat, the second where the dual's change is
/// lost to rounding near the solution. When the misfit has a part the Jacobian cannot reach (every
/// cell of a category clipped), the dependent columns get their current
/// totals on the diagonal, a multiplicative (IPF-like) step for them.
#[allow(clippy::too_many_arguments)]
pub(super) fn bounded_cells(
    cell_w0: &[f64],
    cells_flat: &[u32],
    n_margins: usize,
    offsets: &[usize],
    targets: &[f64],
    margins: &[MarginInfo],
    bounds: WeightBounds,
) -> Result<(Vec<f64>, usize), StatsError> {
    bounds.validate()?;
    let k = cell_w0.len();
    let n_flat = targets.len();
    let infeasible = |a: usize, achieved: f64, iterations: usize| {
        let (m, c) = flat_label(offsets, a);
        StatsError::BoundsInfeasible {
            margin: margins[m].name.clone(),
            category: margins[m].categories[c].clone(),
            lower: bounds.lower,
            upper: bounds.upper,
            target: targets[a],
            achieved,
            iterations,
        }
    };
    // A category can reach at most U, and at least L, times its design
    // weight, whatever the other margins do.
    let design_totals = margin_totals(cell_w0, &vec![1.0; k], cells_flat, n_margins, n_flat);
    for a in 0..n_flat {
        let t = targets[a];
        if t.is_nan() {
            continue;
        }
        let d = design_totals[a];
        if d <= 0.0 {
            let (m, c) = flat_label(offsets, a);
            return Err(StatsError::CategoryNotInSample {
                margin: margins[m].name.clone(),
                category: margins[m].categories[c].clone(),
            });
        }
        if t > bounds.upper * d * (1.0 + 1e-12) {
            return Err(infeasible(a, bounds.upper * d, 0));
        }
        if t < bounds.lower * d * (1.0 - 1e-12) {
            return Err(infeasible(a, bounds.lower * d, 0));
        }
    }

    let columns = model_columns(offsets, targets);
    let p = columns.flat_of_col.len();
    let cell_cols: Vec<Vec<usize>> = (0..k)
        .map(|c| {
            cells_flat[c * n_margins..(c + 1) * n_margins]
                .iter()
                .filter_map(|&a| columns.col_of_flat[a as usize])
                .collect()
        })
        .collect();
    let t_col: Vec<f64> = columns.flat_of_col.iter().map(|&a| targets[a]).collect();
    let (log_l, log_u) = (bounds.lower.ln(), bounds.upper.ln());
    let state = |eta: &[f64]| -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let u: Vec<f64> = cell_cols.iter().map(|cc| cc.iter().map(|&j| eta[j]).sum()).collect();
        let g: Vec<f64> = u.iter().map(|&x| x.exp().clamp(bounds.lower, bounds.upper)).collect();
        let mut sums: Vec<NeumaierSum> = t_col
            .iter()
            .map(|&t| {
                let mut s = NeumaierSum::ZERO;
                s.add(t);
                s
            })
            .collect();
        for c in 0..k {
            for &j in &cell_cols[c] {
                sums[j].add_product(-cell_w0[c], g[c]);
            }
        }
        (u, g, sums.iter().map(|s| s.value()).collect())
    };
    let scaled = |misfit: &[f64]| -> Vec<f64> { misfit.iter().zip(&t_col).map(|(r, t)| r / (1.0 + t.abs())).collect() };
    let criterion = |misfit: &[f64]| scaled(misfit).iter().fold(0.0f64, |m, r| m.max(r.abs()));
    let merit = |misfit: &[f64]| scaled(misfit).iter().map(|r| r * r).sum::<f64>();

    let mut eta = vec![0.0; p];
    let (mut u, mut g, mut misfit) = state(&eta);
    let mut iterations = 0;
    loop {
        if criterion(&misfit) < NEWTON_TOLERANCE {
            return Ok((g, iterations));
        }
        if iterations == NEWTON_MAX_ITERATIONS {
            break;
        }
        iterations += 1;
        let mut jac = vec![0.0; p * p];
        let mut reach = vec![0.0; p];
        for c in 0..k {
            let e = u[c].exp();
            let active = e >= bounds.lower && e <= bounds.upper;
            for &a in &cell_cols[c] {
                reach[a] += cell_w0[c] * g[c];
                if active {
                    for &b in &cell_cols[c] {
                        jac[a * p + b] += cell_w0[c] * e;
                    }
                }
            }
        }
        let mut chol = PivotedCholesky::factor(&jac, p);
        let mut delta = chol.solve(&misfit);
        if chol.rank < p {
            let reached: f64 = (0..p)
                .map(|a| {
                    let jd: f64 = (0..p).map(|b| jac[a * p + b] * delta[b]).sum();
                    (jd - misfit[a]).powi(2)
                })
                .sum();
            let wanted: f64 = misfit.iter().map(|r| r * r).sum();
            if reached > 1e-12 * wanted {
                let dropped = chol.dropped().to_vec();
                for a in dropped {
                    jac[a * p + a] += reach[a];
                }
                chol = PivotedCholesky::factor(&jac, p);
                delta = chol.solve(&misfit);
            }
        }
        let slope: f64 = misfit.iter().zip(&delta).map(|(r, d)| r * d).sum();
        let before = merit(&misfit);
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..MAX_HALVINGS {
            let trial: Vec<f64> = eta.iter().zip(&delta).map(|(e, d)| e + step * d).collect();
            let (u2, g2, misfit2) = state(&trial);
            // Change of the dual objective to minimise, Σ D ψ(u) − ηᵀT.
            let mut change = NeumaierSum::ZERO;
            for c in 0..k {
                change.add(cell_w0[c] * psi_diff(u[c], u2[c], bounds, log_l, log_u));
            }
            for j in 0..p {
                change.add(-(trial[j] - eta[j]) * t_col[j]);
            }
            if change.value() <= -1e-4 * step * slope || merit(&misfit2) < before {
                (eta, u, g, misfit) = (trial, u2, g2, misfit2);
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    // Name the category the bounded weights miss most.
    let totals = margin_totals(cell_w0, &g, cells_flat, n_margins, n_flat);
    let mut worst_a = 0;
    let mut worst_e = -1.0;
    for a in 0..n_flat {
        if targets[a].is_nan() {
            continue;
        }
        let e = (totals[a] - targets[a]).abs() / targets[a];
        if e > worst_e {
            (worst_a, worst_e) = (a, e);
        }
    }
    Err(infeasible(worst_a, totals[worst_a], iterations))
}

/// The margins checked and laid out on the joint table, shared by both
/// methods. Its units are respondents, or for [`super::sufficient`] sums
/// over respondents who share a joint cell (and more).
pub(super) struct Setup {
    pub base: Vec<f64>,
    pub infos: Vec<MarginInfo>,
    pub offsets: Vec<usize>,
    pub targets: Vec<f64>,
    pub cells: Cells,
    /// Σ design weights per joint cell.
    pub cell_w0: Vec<f64>,
}

impl Design {
    /// Weights `raked`: calibrate the design weights to population margins
    /// by IPF, sweeping the margins in the given order. Errors name a sample
    /// category the population lacks, a population category without
    /// respondents, or report non-convergence. Raking a raked design starts
    /// again from its design weights.
    pub fn rake(&self, margins: &[Margin], options: &RakeOptions) -> Result<Design, StatsError> {
        let s = calibration_setup(self.design_weights().to_vec(), margins, options)?;
        let (f, sweeps) = s.solve(None, options)?;
        self.with_calibration(s, f, sweeps, options, None)
    }

    /// Weights `raked` with bounds: raking whose factor g = final / design
    /// weight stays within `[bounds.lower, bounds.upper]`, as R's
    /// `calibrate(design, ~a + b + …, population, calfun = "raking", bounds =
    /// c(lower, upper))`; the margins are met exactly, and where no bound
    /// binds the weights are those of [`rake`](Design::rake). The variance is
    /// calibrate's (a design-weighted regression residual), not rake()'s.
    /// Besides `rake`'s errors: invalid bounds, and bounds that no weights
    /// can meet ([`StatsError::BoundsInfeasible`], naming the category the
    /// weights miss most). `options.max_sweeps` and `epsilon` are IPF's and
    /// not used; the margin checks are.
    pub fn rake_bounded(
        &self,
        margins: &[Margin],
        bounds: WeightBounds,
        options: &RakeOptions,
    ) -> Result<Design, StatsError> {
        bounds.validate()?;
        let s = calibration_setup(self.design_weights().to_vec(), margins, options)?;
        let (f, iterations) = s.solve(Some(bounds), options)?;
        self.with_calibration(s, f, iterations, options, Some(bounds))
    }

    /// The calibrated design from the cell factors `f`: weights, the check
    /// of every margin, diagnostics and the variance structures.
    fn with_calibration(
        &self,
        s: Setup,
        f: Vec<f64>,
        sweeps: usize,
        options: &RakeOptions,
        bounds: Option<WeightBounds>,
    ) -> Result<Design, StatsError> {
        let n = self.len();
        let weights: Vec<f64> = s
            .base
            .iter()
            .zip(&s.cells.cell)
            .map(|(&w, &k)| w * f[k as usize])
            .collect();
        let summary = WeightSummary::of_respondents(&s.base, &weights, &s.cells.cell, &f, bounds);
        let mut cell_count = vec![0f64; s.cells.k];
        for &k in &s.cells.cell {
            cell_count[k as usize] += 1.0;
        }
        let mut calibration = finish_calibration(s, f, sweeps, options, bounds, &cell_count, &summary)?;
        let cells = &calibration.cells;
        let (n_m, n_flat) = (calibration.margins.len(), calibration.n_flat);
        match &self.psu {
            Some(psu) => {
                let p = self.psu_stratum.len();
                let mut acc = vec![NeumaierSum::ZERO; p * n_flat];
                for i in 0..n {
                    let row = psu[i] as usize * n_flat;
                    let fl = &cells.flat[cells.cell[i] as usize * n_m..][..n_m];
                    for &a in fl {
                        acc[row + a as usize].add(weights[i]);
                    }
                }
                calibration.psu_cat_w = acc.iter().map(|s| s.value()).collect();
            }
            None => {
                let h = self.n_strata();
                let mut a1 = vec![NeumaierSum::ZERO; h * cells.k];
                let mut a2 = vec![NeumaierSum::ZERO; h * cells.k];
                for i in 0..n {
                    let j = self.stratum[i] as usize * cells.k + cells.cell[i] as usize;
                    a1[j].add(weights[i]);
                    a2[j].add(weights[i] * weights[i]);
                }
                calibration.stratum_cell_w = a1.iter().map(|s| s.value()).collect();
                calibration.stratum_cell_w2 = a2.iter().map(|s| s.value()).collect();
            }
        }
        let mut d = self.clone();
        d.mode = WeightMode::Raked;
        d.weights = weights;
        d.calibration = Some(Box::new(calibration));
        Ok(d)
    }
}

/// Check the margins and build their joint table; `base` holds the design
/// weight (or Σ design weights) of each unit, the margins one code per unit.
pub(super) fn calibration_setup(
    base: Vec<f64>,
    margins: &[Margin],
    options: &RakeOptions,
) -> Result<Setup, StatsError> {
    if margins.is_empty() {
        return Err(StatsError::InvalidArgument("raking needs at least one margin".into()));
    }
    if options.epsilon.is_nan() || options.epsilon <= 0.0 || options.max_sweeps == 0 {
        return Err(StatsError::InvalidArgument(
            "raking needs epsilon > 0 and max_sweeps >= 1".into(),
        ));
    }
    let n = base.len();
    let mut offsets = vec![0usize];
    let mut targets = Vec::new();
    let mut infos = Vec::new();
    for mg in margins {
        if mg.codes.len() != n {
            return Err(StatsError::LengthMismatch {
                what: format!("category codes of margin '{}'", mg.name),
                expected: n,
                got: mg.codes.len(),
            });
        }
        if mg.totals.len() != mg.categories.len() {
            return Err(StatsError::LengthMismatch {
                what: format!("population totals of margin '{}'", mg.name),
                expected: mg.categories.len(),
                got: mg.totals.len(),
            });
        }
        let nc = mg.categories.len();
        let mut present = vec![false; nc];
        for (i, &c) in mg.codes.iter().enumerate() {
            if c as usize >= nc {
                return Err(StatsError::UnknownCategory {
                    index: i,
                    margin: mg.name.clone(),
                    code: c,
                    categories: nc,
                });
            }
            present[c as usize] = true;
        }
        for c in 0..nc {
            match (present[c], mg.totals[c]) {
                (true, None) => {
                    return Err(StatsError::CategoryNotInPopulation {
                        margin: mg.name.clone(),
                        category: mg.categories[c].clone(),
                    })
                }
                (false, Some(_)) => {
                    return Err(StatsError::CategoryNotInSample {
                        margin: mg.name.clone(),
                        category: mg.categories[c].clone(),
                    })
                }
                (true, Some(t)) if !(t.is_finite() && t > 0.0) => {
                    return Err(StatsError::InvalidPopulationTotal {
                        margin: mg.name.clone(),
                        category: mg.categories[c].clone(),
                        total: t,
                    })
                }
                _ => {}
            }
            targets.push(mg.totals[c].unwrap_or(f64::NAN));
        }
        offsets.push(offsets.last().unwrap() + nc);
        infos.push(MarginInfo {
            name: mg.name.clone(),
            categories: mg.categories.clone(),
        });
    }
    let n_m = margins.len();
    let grand: Vec<f64> = (0..n_m)
        .map(|m| {
            let mut s = NeumaierSum::ZERO;
            for &t in &targets[offsets[m]..offsets[m + 1]] {
                if !t.is_nan() {
                    s.add(t);
                }
            }
            s.value()
        })
        .collect();
    for m in 1..n_m {
        if (grand[m] - grand[0]).abs() > options.max_total_discrepancy * grand[0] {
            return Err(StatsError::InconsistentMargins {
                first: margins[0].name.clone(),
                first_total: grand[0],
                other: margins[m].name.clone(),
                other_total: grand[m],
            });
        }
    }
    let code_refs: Vec<&[u32]> = margins.iter().map(|m| m.codes.as_slice()).collect();
    let cells = joint_cells(&code_refs, &offsets, n)?;
    let mut cell_w0 = vec![NeumaierSum::ZERO; cells.k];
    for (i, &w) in base.iter().enumerate() {
        cell_w0[cells.cell[i] as usize].add(w);
    }
    let cell_w0: Vec<f64> = cell_w0.iter().map(|s| s.value()).collect();
    Ok(Setup {
        base,
        infos,
        offsets,
        targets,
        cells,
        cell_w0,
    })
}

impl Setup {
    /// IPF (`bounds` None) or bounded raking of the setup's cells.
    pub(super) fn solve(
        &self,
        bounds: Option<WeightBounds>,
        options: &RakeOptions,
    ) -> Result<(Vec<f64>, usize), StatsError> {
        let n_m = self.infos.len();
        match bounds {
            None => ipf_cells(
                &self.cell_w0,
                &self.cells.flat,
                n_m,
                &self.offsets,
                &self.targets,
                &self.infos,
                options,
            ),
            Some(b) => bounded_cells(
                &self.cell_w0,
                &self.cells.flat,
                n_m,
                &self.offsets,
                &self.targets,
                &self.infos,
                b,
            ),
        }
    }
}

/// The calibration from the cell factors `f`: the check of every margin,
/// the diagnostics and the variance structures, from the respondents per
/// joint cell (`cell_count`). The sums per PSU or stratum and cell are the
/// caller's (left empty).
pub(super) fn finish_calibration(
    s: Setup,
    f: Vec<f64>,
    sweeps: usize,
    options: &RakeOptions,
    bounds: Option<WeightBounds>,
    cell_count: &[f64],
    summary: &WeightSummary,
) -> Result<Calibration, StatsError> {
    let Setup {
        base,
        infos,
        offsets,
        targets,
        cells,
        cell_w0,
    } = s;
    let n_m = infos.len();
    let n_flat = *offsets.last().unwrap();
    let diagnostics = diagnose(
        &cell_w0,
        &f,
        &cells.flat,
        n_m,
        &offsets,
        &targets,
        &infos,
        summary,
        sweeps,
        bounds,
    );
    if diagnostics.max_margin_error > options.margin_tolerance {
        let (m, c) = worst(&cell_w0, &f, &cells.flat, n_m, &offsets, &targets);
        let achieved = margin_totals(&cell_w0, &f, &cells.flat, n_m, n_flat)[offsets[m] + c];
        let target = targets[offsets[m] + c];
        return Err(StatsError::RakingMissesMargin {
            margin: infos[m].name.clone(),
            category: infos[m].categories[c].clone(),
            target,
            achieved,
            relative: diagnostics.max_margin_error,
            tolerance: options.margin_tolerance,
        });
    }

    // Variance structures.
    let variance = match bounds {
        None => {
            let mut cat_count = vec![0f64; n_flat];
            let mut cross = vec![0f64; n_flat * n_flat];
            for k in 0..cells.k {
                let fl = &cells.flat[k * n_m..(k + 1) * n_m];
                for &a in fl {
                    cat_count[a as usize] += cell_count[k];
                    for &b in fl {
                        cross[a as usize * n_flat + b as usize] += cell_count[k];
                    }
                }
            }
            CalibrationVariance::Rake { cat_count, cross }
        }
        Some(_) => {
            let columns = model_columns(&offsets, &targets);
            let p = columns.flat_of_col.len();
            let mut acc = vec![NeumaierSum::ZERO; p * p];
            for k in 0..cells.k {
                let cols: Vec<usize> = cells.flat[k * n_m..(k + 1) * n_m]
                    .iter()
                    .filter_map(|&a| columns.col_of_flat[a as usize])
                    .collect();
                for &a in &cols {
                    for &b in &cols {
                        acc[a * p + b].add(cell_w0[k]);
                    }
                }
            }
            let cross: Vec<f64> = acc.iter().map(|s| s.value()).collect();
            CalibrationVariance::Regression {
                cross_d: PivotedCholesky::factor(&cross, p),
                columns,
            }
        }
    };
    Ok(Calibration {
        base_weights: base,
        options: *options,
        bounds,
        margins: infos,
        offsets,
        n_flat,
        targets,
        cells,
        cell_factor: f,
        sweeps,
        diagnostics,
        variance,
        psu_cat_w: Vec::new(),
        stratum_cell_w: Vec::new(),
        stratum_cell_w2: Vec::new(),
    })
}

impl Calibration {
    /// The adjustment of the linearised values z_i = w_i u_i for the
    /// calibration, as α by flat category: `z_i ← w_i (u_i − Σ_m α_{m,c_m(i)})`.
    /// `u_sums` and `du_sums` are the per-category sums of u and of d·u
    /// (d the design weight) over the domain.
    ///
    /// * rake(): R's `svyrecvar` does 10 rounds of, for each margin m in
    ///   order, `z_i ← z_i − w_i · mean_{j∈c_m(i)} (z_j / w_j)`. With
    ///   `v_i = z_i / w_i = u_i − Σ_m α_{m,c_m(i)}` the rounds only update α,
    ///   using `u_sums` and the cross counts.
    /// * Bounded raking (calibrate): `z̃ = z − w ⊙ Mβ` with
    ///   `(MᵀDM) β = Mᵀ(z ⊘ g)`; g is constant within a cell, so `Mᵀ(z ⊘ g)`
    ///   is `du_sums` on the model columns, and α is β (0 for the reference
    ///   categories).
    pub(super) fn alpha(&self, u_sums: &[f64], du_sums: &[f64]) -> Vec<f64> {
        let nf = self.n_flat;
        let mut alpha = vec![0.0; nf];
        match &self.variance {
            CalibrationVariance::Rake { cat_count, cross } => {
                for _ in 0..10 {
                    for m in 0..self.margins.len() {
                        for a in self.offsets[m]..self.offsets[m + 1] {
                            let cnt = cat_count[a];
                            if cnt == 0.0 {
                                continue;
                            }
                            let row = &cross[a * nf..(a + 1) * nf];
                            let mut s = NeumaierSum::ZERO;
                            s.add(u_sums[a]);
                            for (b, &x) in row.iter().enumerate() {
                                if x != 0.0 && alpha[b] != 0.0 {
                                    s.add(-alpha[b] * x);
                                }
                            }
                            alpha[a] += s.value() / cnt;
                        }
                    }
                }
            }
            CalibrationVariance::Regression { columns, cross_d } => {
                let rhs: Vec<f64> = columns.flat_of_col.iter().map(|&a| du_sums[a]).collect();
                let beta = cross_d.solve(&rhs);
                for (&a, b) in columns.flat_of_col.iter().zip(beta) {
                    alpha[a] = b;
                }
            }
        }
        alpha
    }

    /// "margin=category" of a flat category.
    pub(super) fn category_label(&self, a: usize) -> String {
        let (m, c) = flat_label(&self.offsets, a);
        format!("{}={}", self.margins[m].name, self.margins[m].categories[c])
    }

    /// Flat categories with a population total but no weight in `cell_w`
    /// (Σ weights per joint cell), which no factor can calibrate.
    pub(super) fn empty_categories(&self, cell_w: &[f64]) -> Vec<usize> {
        let n_m = self.margins.len();
        let totals = margin_totals(cell_w, &vec![1.0; cell_w.len()], &self.cells.flat, n_m, self.n_flat);
        (0..self.n_flat)
            .filter(|&a| !self.targets[a].is_nan() && totals[a] <= 0.0)
            .collect()
    }

    /// Calibrate other starting weights (Σ per joint cell, e.g. a bootstrap
    /// replicate's) the way this design was: IPF with the same options, or
    /// bounded raking with the same bounds. Returns the cell factors and,
    /// when the bounds had to be widened, the bounds used.
    ///
    /// Bounds that bind in the design can be out of reach in a replicate (on
    /// the 2026 reference data [0.5, 2] is in about a quarter of the
    /// replicates, mostly for age 18-29 and the small district gaoqu).
    /// Bounded raking is not defined there, and redrawing such replicates
    /// would keep only the samples where the bounds hold. They are widened
    /// instead, just enough: the side that fails is multiplied (upper) or
    /// divided (lower) by 1.01 × the least factor that lets every category
    /// reach its total, then both by 1.1 more while the margins still cannot
    /// be met together (at most 10 times). As a replicate nears the edge of
    /// feasibility its solution nears the one within the design's bounds, so
    /// the replicate estimates do not jump there.
    pub(super) fn solve_replicate(&self, cell_w: &[f64]) -> Result<(Vec<f64>, Option<WeightBounds>), StatsError> {
        let Some(bounds) = self.bounds else {
            return Ok((self.solve_cells(cell_w, None)?, None));
        };
        let mut error = match self.solve_cells(cell_w, Some(bounds)) {
            Ok(f) => return Ok((f, None)),
            Err(e @ StatsError::BoundsInfeasible { .. }) => e,
            Err(e) => return Err(e),
        };
        let n_m = self.margins.len();
        let reach = margin_totals(cell_w, &vec![1.0; cell_w.len()], &self.cells.flat, n_m, self.n_flat);
        let (mut up, mut down) = (1.0f64, 1.0f64);
        for (a, &t) in self.targets.iter().enumerate() {
            if !t.is_nan() && reach[a] > 0.0 {
                up = up.max(t / (bounds.upper * reach[a]));
                down = down.max(bounds.lower * reach[a] / t);
            }
        }
        let mut wide = bounds;
        if up > 1.0 {
            wide.upper *= 1.01 * up;
        }
        if down > 1.0 {
            wide.lower /= 1.01 * down;
        }
        for attempt in 0..=10 {
            if attempt > 0 || (up <= 1.0 && down <= 1.0) {
                wide.upper *= 1.1;
                wide.lower /= 1.1;
            }
            match self.solve_cells(cell_w, Some(wide)) {
                Ok(f) => return Ok((f, Some(wide))),
                Err(e @ StatsError::BoundsInfeasible { .. }) => error = e,
                Err(e) => return Err(e),
            }
        }
        Err(error)
    }

    /// IPF (`bounds` None) or bounded raking of Σ starting weights per
    /// joint cell to this design's margins, checked against them as the
    /// design was.
    fn solve_cells(&self, cell_w: &[f64], bounds: Option<WeightBounds>) -> Result<Vec<f64>, StatsError> {
        let n_m = self.margins.len();
        let (f, _) = match bounds {
            None => ipf_cells(
                cell_w,
                &self.cells.flat,
                n_m,
                &self.offsets,
                &self.targets,
                &self.margins,
                &self.options,
            )?,
            Some(b) => bounded_cells(
                cell_w,
                &self.cells.flat,
                n_m,
                &self.offsets,
                &self.targets,
                &self.margins,
                b,
            )?,
        };
        let (m, c) = worst(cell_w, &f, &self.cells.flat, n_m, &self.offsets, &self.targets);
        let a = self.offsets[m] + c;
        let achieved = margin_totals(cell_w, &f, &self.cells.flat, n_m, self.n_flat)[a];
        let relative = (achieved - self.targets[a]).abs() / self.targets[a];
        if relative > self.options.margin_tolerance {
            return Err(StatsError::RakingMissesMargin {
                margin: self.margins[m].name.clone(),
                category: self.margins[m].categories[c].clone(),
                target: self.targets[a],
                achieved,
                relative,
                tolerance: self.options.margin_tolerance,
            });
        }
        Ok(f)
    }
}
