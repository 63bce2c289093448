//! Raking (iterative proportional fitting) to population margins and the
//! structures needed for the post-raking variance (docs/statistics.md §5).
//!
//! IPF runs on the joint table of all margin variables: every respondent of
//! a joint cell k is multiplied by the same factors, so the final weight is
//! `w_i = w0_i · f_k(i)` and each sweep costs O(cells), not O(respondents).
//! Convergence: the largest change of any joint-table cell between two
//! sweeps is below `epsilon · Σ w0` (Σ of the design weights before raking,
//! as R's `rake()` does), at most `max_sweeps` sweeps.

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

/// What a raking did, for every output that rakes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RakingDiagnostics {
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

/// Everything the variance and the bootstrap need about a raking.
#[derive(Debug, Clone)]
pub(super) struct Calibration {
    pub base_weights: Vec<f64>,
    pub options: RakeOptions,
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
    /// Respondents per flat category.
    pub cat_count: Vec<f64>,
    /// Cross counts between flat categories (`n_flat × n_flat`).
    pub cross: Vec<f64>,
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

#[allow(clippy::too_many_arguments)]
fn diagnose(
    cell_w0: &[f64],
    f: &[f64],
    flat: &[u32],
    n_m: usize,
    offsets: &[usize],
    targets: &[f64],
    infos: &[MarginInfo],
    base: &[f64],
    weights: &[f64],
    sweeps: usize,
) -> RakingDiagnostics {
    let totals = margin_totals(cell_w0, f, flat, n_m, targets.len());
    let (m, c) = worst(cell_w0, f, flat, n_m, offsets, targets);
    let a = offsets[m] + c;
    let max_margin_error = (totals[a] - targets[a]).abs() / targets[a];
    let n = weights.len() as f64;
    let mut sum = NeumaierSum::ZERO;
    weights.iter().for_each(|&w| sum.add(w));
    let mean = sum.value() / n;
    let mut ss = NeumaierSum::ZERO;
    weights.iter().for_each(|&w| ss.add((w - mean) * (w - mean)));
    let weight_cv = if n > 1.0 {
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
    RakingDiagnostics {
        sweeps,
        converged: true,
        max_margin_error,
        worst_category: format!("{}={}", infos[m].name, infos[m].categories[c]),
        weight_min: weights.iter().copied().fold(f64::INFINITY, f64::min),
        weight_max: weights.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        weight_cv,
        factor_min: fmin,
        factor_max: fmax,
    }
}

impl Design {
    /// Weights `raked`: calibrate the design weights to population margins
    /// by IPF, sweeping the margins in the given order. Errors name a sample
    /// category the population lacks, a population category without
    /// respondents, or report non-convergence. Raking a raked design starts
    /// again from its design weights.
    pub fn rake(&self, margins: &[Margin], options: &RakeOptions) -> Result<Design, StatsError> {
        if margins.is_empty() {
            return Err(StatsError::InvalidArgument("raking needs at least one margin".into()));
        }
        if options.epsilon.is_nan() || options.epsilon <= 0.0 || options.max_sweeps == 0 {
            return Err(StatsError::InvalidArgument(
                "raking needs epsilon > 0 and max_sweeps >= 1".into(),
            ));
        }
        let n = self.len();
        let base = self.design_weights().to_vec();
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
        let n_flat = *offsets.last().unwrap();
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
        let (f, sweeps) = ipf_cells(&cell_w0, &cells.flat, n_m, &offsets, &targets, &infos, options)?;
        let weights: Vec<f64> = base.iter().zip(&cells.cell).map(|(&w, &k)| w * f[k as usize]).collect();
        let diagnostics = diagnose(
            &cell_w0,
            &f,
            &cells.flat,
            n_m,
            &offsets,
            &targets,
            &infos,
            &base,
            &weights,
            sweeps,
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
        let mut cell_count = vec![0f64; cells.k];
        for &k in &cells.cell {
            cell_count[k as usize] += 1.0;
        }
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
        let mut psu_cat_w = Vec::new();
        let mut stratum_cell_w = Vec::new();
        let mut stratum_cell_w2 = Vec::new();
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
                psu_cat_w = acc.iter().map(|s| s.value()).collect();
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
                stratum_cell_w = a1.iter().map(|s| s.value()).collect();
                stratum_cell_w2 = a2.iter().map(|s| s.value()).collect();
            }
        }
        let calibration = Calibration {
            base_weights: base,
            options: *options,
            margins: infos,
            offsets,
            n_flat,
            targets,
            cells,
            cell_factor: f,
            sweeps,
            diagnostics,
            cat_count,
            cross,
            psu_cat_w,
            stratum_cell_w,
            stratum_cell_w2,
        };
        let mut d = self.clone();
        d.mode = WeightMode::Raked;
        d.weights = weights;
        d.calibration = Some(Box::new(calibration));
        Ok(d)
    }
}

impl Calibration {
    /// The raking adjustment of the linearised values (R `svyrecvar`):
    /// 10 rounds of, for each margin m in order,
    /// `z_i ← z_i − w_i · mean_{j∈c_m(i)} (z_j / w_j)`.
    /// With `v_i = z_i / w_i = u_i − Σ_m α_{m,c_m(i)}`, the rounds only
    /// update the α vector, using the per-category sums of u (`u_sums`, by
    /// flat category) and the cross counts. Returns α by flat category.
    /// `du_sums` (the per-category sums of d·u, d the design weight) are
    /// what a calibration's regression residual needs instead.
    pub(super) fn alpha(&self, u_sums: &[f64], _du_sums: &[f64]) -> Vec<f64> {
        let nf = self.n_flat;
        let mut alpha = vec![0.0; nf];
        for _ in 0..10 {
            for m in 0..self.margins.len() {
                for a in self.offsets[m]..self.offsets[m + 1] {
                    let cnt = self.cat_count[a];
                    if cnt == 0.0 {
                        continue;
                    }
                    let row = &self.cross[a * nf..(a + 1) * nf];
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
        alpha
    }
}
