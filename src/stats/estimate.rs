//! Weighted means with linearised (Taylor) standard errors, domain
//! estimation, t and logit confidence intervals (docs/statistics.md §4, §6).
//!
//! For a domain S (a group, or everyone) and a variable y:
//!
//! * `Ŷ = Σ_S w_i y_i / Σ_S w_i`, `n = |S|`, `n_eff = (Σ_S w)² / Σ_S w²`;
//! * `u_i = (y_i − Ŷ) / Σ_S w` for i in S, 0 for every other respondent,
//!   `z_i = w_i u_i` (the design is never cut down to the domain);
//! * raked designs: `z_i ← w_i (u_i − Σ_m α_{m,c_m(i)})`, α from 10 rounds
//!   of the per-margin centring of R's `svyrecvar` (see
//!   [`Calibration::alpha`](super::rake)), computed on category sums;
//! * `Var = Σ_h n_h/(n_h−1) Σ_c (z_hc − z̄_h)²` over all PSUs of the sample;
//! * `df` = PSUs with ≥1 member of S − strata with ≥1 member of S;
//! * CI `Ŷ ± t_{df,(1+L)/2} SE`; for shares the logit interval
//!   `expit(logit p̂ ± t SE/(p̂(1−p̂)))`, not defined when p̂ is 0 or 1.
//!
//! Cost per variable: two passes over the respondents for the whole sample
//! and all groups together, plus work proportional to PSUs × categories.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::design::Design;
use super::dist::t_critical;
use super::error::StatsError;
use super::summation::{BlockedSum, NeumaierSum, BLOCK};

/// A respondent-level variable column (one value per respondent).
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    /// Scores or composites; `NaN` marks a missing value.
    Numeric(&'a [f64]),
    /// 0/1 indicators such as the top-two box; `None` is missing.
    Indicator(&'a [Option<bool>]),
}

impl Column<'_> {
    fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Indicator(v) => v.len(),
        }
    }
}

/// Mean of a score, or share (proportion) of an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Score mean: t interval, precision threshold 30 points.
    Mean,
    /// Share in [0, 1]: logit interval, precision threshold 0.30.
    Proportion,
}

/// Level of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Overall score.
    Overall,
    /// Dimension score.
    Dimension,
    /// Item score (with its top-two box).
    Item,
}

/// Why a confidence interval (or estimate) is not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CiUnavailable {
    /// Fewer than `min_cell` respondents: everything but n is withheld.
    Suppressed,
    /// No respondent of the domain has a value.
    NoRespondents,
    /// df = 0 (all domain members in a single PSU per stratum).
    NoDegreesOfFreedom,
    /// The share is 0 or 1: the logit interval is not defined.
    BoundaryProportion,
}

impl std::fmt::Display for CiUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CiUnavailable::Suppressed => "suppressed: fewer respondents than the minimum cell size",
            CiUnavailable::NoRespondents => "no respondents with a value in this domain",
            CiUnavailable::NoDegreesOfFreedom => {
                "CI not defined: zero degrees of freedom (domain within one PSU per stratum)"
            }
            CiUnavailable::BoundaryProportion => {
                "CI not defined: the share is 0 or 1, so the logit interval does not exist"
            }
        })
    }
}

/// One published figure.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// Respondents of the domain with a value.
    pub n: u64,
    /// Kish effective sample size (None when n = 0).
    pub n_eff: Option<f64>,
    /// Weighted mean (None when suppressed or n = 0).
    pub estimate: Option<f64>,
    /// Linearised standard error.
    pub se: Option<f64>,
    /// Degrees of freedom.
    pub df: u64,
    /// Lower CI bound.
    pub ci_low: Option<f64>,
    /// Upper CI bound.
    pub ci_high: Option<f64>,
    /// Why the bounds (or the estimate) are missing.
    pub ci_unavailable: Option<CiUnavailable>,
    /// Fewer than `min_cell` respondents.
    pub suppressed: bool,
    /// n_eff < 30, df < 8 or CI wider than 30 points (0.30 for shares).
    pub low_precision: bool,
}

/// A variable to estimate: a score column and, for items, the top-two box.
#[derive(Debug, Clone)]
pub struct Variable<'a> {
    /// Level of the index.
    pub level: Level,
    /// Id ("overall", dimension id, item id).
    pub id: String,
    /// Score column (`NaN` = missing).
    pub score: &'a [f64],
    /// Top-two-box indicators (items).
    pub top_box: Option<&'a [Option<bool>]>,
}

/// Grouping for `--by`: a group code per respondent and the output order.
#[derive(Debug, Clone, Copy)]
pub struct Grouping<'a> {
    /// Group code of each respondent (`None`: in no group; still counted in
    /// the whole sample).
    pub codes: &'a [Option<u32>],
    /// Codes to report, in output order.
    pub order: &'a [u32],
}

/// Estimation options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimateOptions {
    /// Confidence level (default 0.95).
    pub level: f64,
    /// Minimum cell size; smaller domains are suppressed (default 10).
    pub min_cell: u64,
    /// Worker threads for [`estimate_all`] (default 2).
    pub threads: usize,
}

impl Default for EstimateOptions {
    fn default() -> Self {
        EstimateOptions {
            level: 0.95,
            min_cell: 10,
            threads: 2,
        }
    }
}

/// One output row: a variable in a domain.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// Level.
    pub level: Level,
    /// Variable id.
    pub id: String,
    /// Group code (None: whole sample).
    pub group: Option<u32>,
    /// Score estimate.
    #[serde(flatten)]
    pub score: Estimate,
    /// Top-two-box share (items).
    pub top_box: Option<Estimate>,
}

/// Raw statistics of one domain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DomainStats {
    /// Respondents with a value.
    pub n: u64,
    /// Σ w.
    pub sum_w: f64,
    /// Σ w².
    pub sum_w2: f64,
    /// Weighted mean (NaN when n = 0).
    pub mean: f64,
    /// Linearised variance of the mean.
    pub variance: f64,
    /// Degrees of freedom.
    pub df: u64,
}

pub(super) const NO_GROUP: u16 = u16::MAX;

#[derive(Clone, Copy, Default)]
struct Acc {
    n: u64,
    sw: NeumaierSum,
    swy: NeumaierSum,
    sw2: NeumaierSum,
}

/// Per-respondent group slot (0-based position in `order`, NO_GROUP else).
pub(super) fn group_slots(n: usize, grouping: &Grouping<'_>) -> Result<Vec<u16>, StatsError> {
    if grouping.codes.len() != n {
        return Err(StatsError::LengthMismatch {
            what: "group codes".into(),
            expected: n,
            got: grouping.codes.len(),
        });
    }
    if grouping.order.len() >= NO_GROUP as usize {
        return Err(StatsError::InvalidArgument(format!(
            "too many groups ({})",
            grouping.order.len()
        )));
    }
    let mut map: HashMap<u32, u16> = HashMap::new();
    for (k, &c) in grouping.order.iter().enumerate() {
        if map.insert(c, k as u16).is_some() {
            return Err(StatsError::InvalidArgument(format!("group code {c} listed twice")));
        }
    }
    let max = grouping.order.iter().copied().max().unwrap_or(0) as usize;
    if max <= (1 << 20) {
        let mut lut = vec![NO_GROUP; max + 1];
        for (&c, &k) in &map {
            lut[c as usize] = k;
        }
        Ok(grouping
            .codes
            .iter()
            .map(|c| match c {
                Some(c) => lut.get(*c as usize).copied().unwrap_or(NO_GROUP),
                None => NO_GROUP,
            })
            .collect())
    } else {
        Ok(grouping
            .codes
            .iter()
            .map(|c| c.and_then(|c| map.get(&c).copied()).unwrap_or(NO_GROUP))
            .collect())
    }
}

/// Whole-sample and per-group statistics of one column. `slots` is empty
/// (whole sample only) or one slot per respondent; result index 0 is the
/// whole sample, 1 + k the k-th group.
pub(super) fn domain_stats(design: &Design, column: Column<'_>, slots: &[u16], n_groups: usize) -> Vec<DomainStats> {
    match column {
        Column::Numeric(v) => domain_stats_impl(design, |i| v[i], slots, n_groups),
        Column::Indicator(v) => domain_stats_impl(
            design,
            |i| match v[i] {
                Some(true) => 1.0,
                Some(false) => 0.0,
                None => f64::NAN,
            },
            slots,
            n_groups,
        ),
    }
}

#[inline(always)]
fn for_domains(slots: &[u16], i: usize, mut f: impl FnMut(usize)) {
    f(0);
    if let Some(&s) = slots.get(i) {
        if s != NO_GROUP {
            f(s as usize + 1);
        }
    }
}

/// Largest (domains × PSUs × raking cells) table for the one-pass method.
const ONE_PASS_LIMIT: usize = 1 << 20;

fn domain_stats_impl<F: Fn(usize) -> f64>(design: &Design, get: F, slots: &[u16], n_groups: usize) -> Vec<DomainStats> {
    if let Some(psu) = &design.psu {
        let k = design.calibration.as_ref().map_or(1, |c| c.cells.k);
        if (1 + n_groups) * design.psu_stratum.len() * k <= ONE_PASS_LIMIT {
            return one_pass_clustered(design, psu, k, get, slots, n_groups);
        }
    }
    two_pass(design, get, slots, n_groups)
}

/// Per (domain, PSU, raking cell) compensated sums.
#[derive(Clone, Copy, Default)]
struct PairAcc {
    n: u64,
    sy: NeumaierSum,
    sw: NeumaierSum,
    swy: NeumaierSum,
}

/// The hot half of a compensated accumulator: plain sums of the current
/// block of at most [`BLOCK`] terms, small so that a table of them stays in
/// cache. Each full block is handed to the compensated sums ([`Absorb`]),
/// as [`BlockedSum`] does for a single sum.
#[derive(Clone, Copy)]
struct Hot<const N: usize> {
    sums: [f64; N],
    count: u32,
}

/// Compensated sums that take a finished block of N plain sums.
trait Absorb<const N: usize> {
    fn absorb(&mut self, sums: [f64; N], count: u32);
}

impl<const N: usize> Default for Hot<N> {
    fn default() -> Self {
        Hot {
            sums: [0.0; N],
            count: 0,
        }
    }
}

impl<const N: usize> Hot<N> {
    #[inline(always)]
    fn add(&mut self, terms: [f64; N], cold: &mut impl Absorb<N>) {
        for (s, t) in self.sums.iter_mut().zip(terms) {
            *s += t;
        }
        self.count += 1;
        if self.count == BLOCK {
            self.flush(cold);
        }
    }

    fn flush(&mut self, cold: &mut impl Absorb<N>) {
        cold.absorb(self.sums, self.count);
        *self = Hot::default();
    }
}

/// Blocks of (y, w, wy).
impl Absorb<3> for PairAcc {
    fn absorb(&mut self, [sy, sw, swy]: [f64; 3], count: u32) {
        self.n += u64::from(count);
        self.sy.add(sy);
        self.sw.add(sw);
        self.swy.add(swy);
    }
}

/// Clustered designs: one pass accumulating, per domain and (PSU, raking
/// cell) pair, n, Σy, Σw and Σwy. Since `u_i = (y_i − Ŷ)/W`, every sum
/// the variance needs is linear in these: PSU totals of z are
/// `Σ_cells (Σwy − Ŷ Σw)/W` and category sums of u are
/// `Σ_pairs (Σy − n Ŷ)/W`.
fn one_pass_clustered<F: Fn(usize) -> f64>(
    design: &Design,
    psu: &[u32],
    k_count: usize,
    get: F,
    slots: &[u16],
    n_groups: usize,
) -> Vec<DomainStats> {
    let n = design.len();
    let nd = 1 + n_groups;
    let w = &design.weights;
    let cal = design.calibration.as_deref();
    let n_pairs = design.psu_stratum.len() * k_count;
    let mut acc = vec![PairAcc::default(); nd * n_pairs];
    let mut hot = vec![Hot::<3>::default(); nd * n_pairs];
    let mut blocked_sw2 = vec![BlockedSum::default(); nd];
    let cells: &[u32] = cal.map_or(&[], |c| &c.cells.cell);
    for i in 0..n {
        let y = get(i);
        if y.is_nan() {
            continue;
        }
        let wi = w[i];
        let pair = psu[i] as usize * k_count + cells.get(i).map_or(0, |&c| c as usize);
        let wy = wi * y;
        let w2 = wi * wi;
        for_domains(slots, i, |d| {
            let j = d * n_pairs + pair;
            hot[j].add([y, wi, wy], &mut acc[j]);
            blocked_sw2[d].add(w2);
        });
    }
    for (h, cold) in hot.iter_mut().zip(acc.iter_mut()) {
        h.flush(cold);
    }
    let sw2: Vec<NeumaierSum> = blocked_sw2.iter().map(BlockedSum::finish).collect();
    finish_pairs(design, k_count, &acc, &sw2, n_groups)
}

/// Domain statistics from the sums per (domain, PSU, raking cell) and Σw²
/// per domain: means, df, PSU totals of the linearised values (adjusted
/// for raking) and the variance.
fn finish_pairs(
    design: &Design,
    k_count: usize,
    acc: &[PairAcc],
    sw2: &[NeumaierSum],
    n_groups: usize,
) -> Vec<DomainStats> {
    let nd = 1 + n_groups;
    let cal = design.calibration.as_deref();
    let p_count = design.psu_stratum.len();
    let n_pairs = p_count * k_count;
    let h_count = design.n_strata();
    let nf = cal.map_or(0, |c| c.n_flat);
    let n_m = cal.map_or(0, |c| c.margins.len());
    let mut out = Vec::with_capacity(nd);
    let mut t = vec![0.0; p_count];
    for d in 0..nd {
        let a = &acc[d * n_pairs..(d + 1) * n_pairs];
        let mut count = 0u64;
        let mut sw = NeumaierSum::ZERO;
        let mut swy = NeumaierSum::ZERO;
        for p in a {
            count += p.n;
            sw.merge(&p.sw);
            swy.merge(&p.swy);
        }
        let total = sw.value();
        let mut st = DomainStats {
            n: count,
            sum_w: total,
            sum_w2: sw2[d].value(),
            mean: f64::NAN,
            variance: 0.0,
            df: 0,
        };
        if count == 0 {
            out.push(st);
            continue;
        }
        let mean = swy.value() / total;
        st.mean = mean;
        // df
        let mut strata = vec![false; h_count];
        let mut psus = 0u64;
        for (p, &h) in design.psu_stratum.iter().enumerate() {
            if a[p * k_count..(p + 1) * k_count].iter().any(|x| x.n > 0) {
                psus += 1;
                strata[h as usize] = true;
            }
        }
        st.df = psus - strata.iter().filter(|&&b| b).count() as u64;
        // PSU totals Σ w u and category sums of u
        let mut u_sums = vec![NeumaierSum::ZERO; nf];
        for (p, tp) in t.iter_mut().enumerate() {
            let mut s = NeumaierSum::ZERO;
            for k in 0..k_count {
                let x = &a[p * k_count + k];
                if x.n == 0 {
                    continue;
                }
                // (Σwy − Ŷ Σw) / W, with the compensation terms kept
                let mut e = x.swy;
                e.add_scaled(-mean, &x.sw);
                s.add(e.value() / total);
                if let Some(c) = cal {
                    let mut q = x.sy;
                    q.add_product(-(x.n as f64), mean);
                    let uq = q.value() / total;
                    for &f in &c.cells.flat[k * n_m..(k + 1) * n_m] {
                        u_sums[f as usize].add(uq);
                    }
                }
            }
            *tp = s.value();
        }
        if let Some(c) = cal {
            let us: Vec<f64> = u_sums.iter().map(|s| s.value()).collect();
            let alpha = c.alpha(&us);
            for (p, tp) in t.iter_mut().enumerate() {
                let mut s = NeumaierSum::ZERO;
                s.add(*tp);
                for (f, &al) in alpha.iter().enumerate() {
                    s.add(-al * c.psu_cat_w[p * nf + f]);
                }
                *tp = s.value();
            }
        }
        st.variance = stratified_variance(design, &t);
        out.push(st);
    }
    out
}

/// Two passes over the respondents (the mean first, then the linearised
/// values); used for unclustered designs and very large PSU tables.
pub(super) fn two_pass<F: Fn(usize) -> f64>(
    design: &Design,
    get: F,
    slots: &[u16],
    n_groups: usize,
) -> Vec<DomainStats> {
    let n = design.len();
    let nd = 1 + n_groups;
    let w = &design.weights;
    let h_count = design.n_strata();
    let cal = design.calibration.as_deref();

    // Pass 1: sums and presence.
    let mut acc = vec![Acc::default(); nd];
    let units = match &design.psu {
        Some(_) => design.psu_stratum.len(),
        None => h_count,
    };
    let mut seen = vec![false; nd * units];
    for i in 0..n {
        let y = get(i);
        if y.is_nan() {
            continue;
        }
        let wi = w[i];
        let unit = match &design.psu {
            Some(p) => p[i] as usize,
            None => design.stratum[i] as usize,
        };
        for_domains(slots, i, |d| {
            let a = &mut acc[d];
            a.n += 1;
            a.sw.add(wi);
            a.swy.add(wi * y);
            a.sw2.add(wi * wi);
            seen[d * units + unit] = true;
        });
    }
    let mean: Vec<f64> = acc
        .iter()
        .map(|a| {
            if a.n == 0 {
                f64::NAN
            } else {
                a.swy.value() / a.sw.value()
            }
        })
        .collect();
    let total: Vec<f64> = acc.iter().map(|a| a.sw.value()).collect();

    // Pass 2: linearised values.
    let nf = cal.map_or(0, |c| c.n_flat);
    let n_m = cal.map_or(0, |c| c.margins.len());
    let mut u_sums = vec![NeumaierSum::ZERO; nd * nf];
    let mut variance = vec![0.0; nd];
    match &design.psu {
        Some(psu) => {
            let p_count = design.psu_stratum.len();
            let mut a = vec![NeumaierSum::ZERO; nd * p_count];
            for i in 0..n {
                let y = get(i);
                if y.is_nan() {
                    continue;
                }
                let wi = w[i];
                let p = psu[i] as usize;
                for_domains(slots, i, |d| {
                    let u = (y - mean[d]) / total[d];
                    a[d * p_count + p].add(wi * u);
                    if let Some(c) = cal {
                        let k = c.cells.cell[i] as usize;
                        for &f in &c.cells.flat[k * n_m..(k + 1) * n_m] {
                            u_sums[d * nf + f as usize].add(u);
                        }
                    }
                });
            }
            let mut t = vec![0.0; p_count];
            for d in 0..nd {
                if acc[d].n == 0 {
                    continue;
                }
                for p in 0..p_count {
                    t[p] = a[d * p_count + p].value();
                }
                if let Some(c) = cal {
                    let us: Vec<f64> = u_sums[d * nf..(d + 1) * nf].iter().map(|s| s.value()).collect();
                    let alpha = c.alpha(&us);
                    for (p, tp) in t.iter_mut().enumerate() {
                        let mut s = NeumaierSum::ZERO;
                        s.add(*tp);
                        for (f, &al) in alpha.iter().enumerate() {
                            s.add(-al * c.psu_cat_w[p * nf + f]);
                        }
                        *tp = s.value();
                    }
                }
                variance[d] = stratified_variance(design, &t);
            }
        }
        None => {
            let k_count = cal.map_or(0, |c| c.cells.k);
            let mut sz = vec![NeumaierSum::ZERO; nd * h_count];
            let mut szz = vec![NeumaierSum::ZERO; nd * h_count];
            let mut r = vec![NeumaierSum::ZERO; nd * h_count * k_count];
            for i in 0..n {
                let y = get(i);
                if y.is_nan() {
                    continue;
                }
                let wi = w[i];
                let h = design.stratum[i] as usize;
                for_domains(slots, i, |d| {
                    let u = (y - mean[d]) / total[d];
                    let z = wi * u;
                    sz[d * h_count + h].add(z);
                    szz[d * h_count + h].add(z * z);
                    if let Some(c) = cal {
                        let k = c.cells.cell[i] as usize;
                        r[(d * h_count + h) * k_count + k].add(wi * z);
                        for &f in &c.cells.flat[k * n_m..(k + 1) * n_m] {
                            u_sums[d * nf + f as usize].add(u);
                        }
                    }
                });
            }
            for d in 0..nd {
                if acc[d].n == 0 {
                    continue;
                }
                let a_cell: Option<Vec<f64>> = cal.map(|c| {
                    let us: Vec<f64> = u_sums[d * nf..(d + 1) * nf].iter().map(|s| s.value()).collect();
                    let alpha = c.alpha(&us);
                    (0..k_count)
                        .map(|k| {
                            c.cells.flat[k * n_m..(k + 1) * n_m]
                                .iter()
                                .map(|&f| alpha[f as usize])
                                .sum()
                        })
                        .collect()
                });
                // Per stratum: Σz (adjusted for raking), Σz², and from
                // them the sum of squares about the stratum mean.
                let sums: Vec<(f64, f64)> = (0..h_count)
                    .map(|h| {
                        let mut s1 = sz[d * h_count + h];
                        let mut s2 = szz[d * h_count + h];
                        if let (Some(c), Some(ak)) = (cal, &a_cell) {
                            for (k, &a) in ak.iter().enumerate() {
                                let wk = c.stratum_cell_w[h * k_count + k];
                                if wk == 0.0 {
                                    continue;
                                }
                                s1.add(-a * wk);
                                s2.add(-2.0 * a * r[(d * h_count + h) * k_count + k].value());
                                s2.add(a * a * c.stratum_cell_w2[h * k_count + k]);
                            }
                        }
                        (s1.value(), s2.value())
                    })
                    .collect();
                variance[d] = design.combine_strata(
                    |h| {
                        let nh = design.psus_in_stratum[h] as f64;
                        let (s1, s2) = sums[h];
                        (s2 - s1 * s1 / nh).max(0.0)
                    },
                    |h| sums[h].1,
                );
            }
        }
    }

    // Degrees of freedom.
    let mut out = Vec::with_capacity(nd);
    for d in 0..nd {
        let df = match &design.psu {
            Some(_) => {
                let mut strata = vec![false; h_count];
                let mut psus = 0u64;
                for (p, &h) in design.psu_stratum.iter().enumerate() {
                    if seen[d * units + p] {
                        psus += 1;
                        strata[h as usize] = true;
                    }
                }
                psus - strata.iter().filter(|&&b| b).count() as u64
            }
            None => {
                let strata = seen[d * units..(d + 1) * units].iter().filter(|&&b| b).count() as u64;
                acc[d].n - strata
            }
        };
        out.push(DomainStats {
            n: acc[d].n,
            sum_w: acc[d].sw.value(),
            sum_w2: acc[d].sw2.value(),
            mean: mean[d],
            variance: variance[d],
            df,
        });
    }
    out
}

/// `Σ_h n_h/(n_h−1) Σ_c (t_hc − t̄_h)²` from PSU totals (all PSUs of the
/// sample; PSUs without domain members have total 0); a stratum with one
/// PSU counts as the design's [`super::LonelyPsu`] rule says.
fn stratified_variance(design: &Design, t: &[f64]) -> f64 {
    let h_count = design.n_strata();
    let mut sums = vec![NeumaierSum::ZERO; h_count];
    for (p, &h) in design.psu_stratum.iter().enumerate() {
        sums[h as usize].add(t[p]);
    }
    let means: Vec<f64> = (0..h_count)
        .map(|h| {
            let nh = design.psus_in_stratum[h];
            if nh == 0 {
                0.0
            } else {
                sums[h].value() / nh as f64
            }
        })
        .collect();
    let mut ss = vec![NeumaierSum::ZERO; h_count];
    for (p, &h) in design.psu_stratum.iter().enumerate() {
        let e = t[p] - means[h as usize];
        ss[h as usize].add(e * e);
    }
    design.combine_strata(
        |h| ss[h].value(),
        |h| {
            let total = sums[h].value();
            total * total
        },
    )
}

/// Cache of t critical values by df.
#[derive(Debug, Default)]
pub(super) struct TCache(HashMap<u64, Option<f64>>);

impl TCache {
    pub(super) fn get(&mut self, df: u64, level: f64) -> Option<f64> {
        *self.0.entry(df).or_insert_with(|| t_critical(df as f64, level))
    }
}

/// Turn raw domain statistics into a published [`Estimate`] (suppression,
/// CI, precision flag).
/// `e` with another standard error (e.g. a bootstrap one) in place of the
/// linearised one: the CI, suppression and precision flags are recomputed
/// from it with the same degrees of freedom. Without an estimate or an SE,
/// `e` is returned unchanged.
pub fn with_standard_error(e: &Estimate, se: Option<f64>, kind: Kind, options: &EstimateOptions) -> Estimate {
    let (Some(mean), Some(se), Some(n_eff)) = (e.estimate, se, e.n_eff) else {
        return e.clone();
    };
    // Of the weight sums only n_eff = (Σw)²/Σw² is used after this point,
    // and Σw = Σw² = n_eff reproduces it.
    let stats = DomainStats {
        n: e.n,
        sum_w: n_eff,
        sum_w2: n_eff,
        mean,
        variance: se * se,
        df: e.df,
    };
    finish_estimate(&stats, kind, options)
}

pub fn finish_estimate(st: &DomainStats, kind: Kind, options: &EstimateOptions) -> Estimate {
    finish_with_cache(st, kind, options, &mut TCache::default())
}

pub(super) fn finish_with_cache(
    st: &DomainStats,
    kind: Kind,
    options: &EstimateOptions,
    cache: &mut TCache,
) -> Estimate {
    let n_eff = if st.n == 0 {
        None
    } else {
        Some(st.sum_w * st.sum_w / st.sum_w2)
    };
    let mut e = Estimate {
        n: st.n,
        n_eff,
        estimate: None,
        se: None,
        df: st.df,
        ci_low: None,
        ci_high: None,
        ci_unavailable: None,
        suppressed: false,
        low_precision: false,
    };
    // An empty cell hides nothing: it is reported as empty, not as small.
    if st.n == 0 {
        e.ci_unavailable = Some(CiUnavailable::NoRespondents);
        return e;
    }
    if st.n < options.min_cell {
        e.suppressed = true;
        e.ci_unavailable = Some(CiUnavailable::Suppressed);
        return e;
    }
    let se = st.variance.max(0.0).sqrt();
    e.estimate = Some(st.mean);
    e.se = Some(se);
    let t = if st.df == 0 {
        None
    } else {
        cache.get(st.df, options.level)
    };
    match t {
        None => e.ci_unavailable = Some(CiUnavailable::NoDegreesOfFreedom),
        Some(t) => match kind {
            Kind::Mean => {
                e.ci_low = Some(st.mean - t * se);
                e.ci_high = Some(st.mean + t * se);
            }
            Kind::Proportion => {
                let p = st.mean;
                if p <= 0.0 || p >= 1.0 {
                    e.ci_unavailable = Some(CiUnavailable::BoundaryProportion);
                } else {
                    let l = (p / (1.0 - p)).ln();
                    let sl = se / (p * (1.0 - p));
                    e.ci_low = Some(expit(l - t * sl));
                    e.ci_high = Some(expit(l + t * sl));
                }
            }
        },
    }
    let limit = match kind {
        Kind::Mean => 30.0,
        Kind::Proportion => 0.30,
    };
    let wide = matches!((e.ci_low, e.ci_high), (Some(a), Some(b)) if b - a > limit);
    e.low_precision = n_eff.is_some_and(|x| x < 30.0) || st.df < 8 || wide;
    e
}

fn expit(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn check_column(design: &Design, what: &str, column: Column<'_>) -> Result<(), StatsError> {
    if column.len() != design.len() {
        return Err(StatsError::LengthMismatch {
            what: format!("values of '{what}'"),
            expected: design.len(),
            got: column.len(),
        });
    }
    if let Column::Numeric(v) = column {
        if let Some(i) = v.iter().position(|x| x.is_infinite()) {
            return Err(StatsError::InvalidValue {
                variable: what.into(),
                index: i,
                value: v[i],
            });
        }
    }
    Ok(())
}

fn check_options(options: &EstimateOptions) -> Result<(), StatsError> {
    if !(options.level > 0.0 && options.level < 1.0) {
        return Err(StatsError::InvalidArgument(format!(
            "confidence level {} must be between 0 and 1",
            options.level
        )));
    }
    Ok(())
}

/// Estimate one variable over the whole sample (`domain = None`) or over the
/// respondents whose group code equals `code`.
pub fn estimate(
    design: &Design,
    column: Column<'_>,
    kind: Kind,
    domain: Option<(&[Option<u32>], u32)>,
    options: &EstimateOptions,
) -> Result<Estimate, StatsError> {
    check_options(options)?;
    check_column(design, "variable", column)?;
    let st = match domain {
        None => domain_stats(design, column, &[], 0)[0],
        Some((codes, code)) => {
            let slots = group_slots(design.len(), &Grouping { codes, order: &[code] })?;
            domain_stats(design, column, &slots, 1)[1]
        }
    };
    Ok(finish_estimate(&st, kind, options))
}

/// Compute every row: for the whole sample and then for each group in
/// `grouping.order`, each variable in the given order (score estimate plus
/// the top-two box for items). Runs `options.threads` worker threads over
/// the variables.
pub fn estimate_all(
    design: &Design,
    variables: &[Variable<'_>],
    grouping: Option<&Grouping<'_>>,
    options: &EstimateOptions,
) -> Result<Vec<Row>, StatsError> {
    check_options(options)?;
    let mut tasks: Vec<(usize, Column<'_>)> = Vec::new();
    for (k, v) in variables.iter().enumerate() {
        check_column(design, &v.id, Column::Numeric(v.score))?;
        tasks.push((k, Column::Numeric(v.score)));
        if let Some(t) = v.top_box {
            check_column(design, &v.id, Column::Indicator(t))?;
            tasks.push((k, Column::Indicator(t)));
        }
    }
    let (slots, n_groups, order): (Vec<u16>, usize, &[u32]) = match grouping {
        Some(g) => (group_slots(design.len(), g)?, g.order.len(), g.order),
        None => (Vec::new(), 0, &[]),
    };
    let results = run_parallel(tasks.len(), options.threads, |j| {
        domain_stats(design, tasks[j].1, &slots, n_groups)
    });
    let mut cache = TCache::default();
    let mut rows = Vec::with_capacity(variables.len() * (1 + n_groups));
    for d in 0..=n_groups {
        let mut j = 0;
        for v in variables {
            let score = finish_with_cache(&results[j][d], Kind::Mean, options, &mut cache);
            j += 1;
            let top_box = if v.top_box.is_some() {
                j += 1;
                Some(finish_with_cache(
                    &results[j - 1][d],
                    Kind::Proportion,
                    options,
                    &mut cache,
                ))
            } else {
                None
            };
            rows.push(Row {
                level: v.level,
                id: v.id.clone(),
                group: if d == 0 { None } else { Some(order[d - 1]) },
                score,
                top_box,
            });
        }
    }
    Ok(rows)
}

/// Run `f(0..count)` on up to `threads` scoped threads; results in order.
pub(super) fn run_parallel<T: Send, F: Fn(usize) -> T + Sync>(count: usize, threads: usize, f: F) -> Vec<T> {
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        return (0..count).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, T)>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let j = next.fetch_add(1, Ordering::Relaxed);
                        if j >= count {
                            break;
                        }
                        out.push((j, f(j)));
                    }
                    out
                })
            })
            .collect();
        for h in handles {
            parts.push(h.join().expect("estimation worker panicked"));
        }
    });
    let mut all: Vec<(usize, T)> = parts.into_iter().flatten().collect();
    all.sort_by_key(|(j, _)| *j);
    all.into_iter().map(|(_, t)| t).collect()
}

/// An item answered on a fixed set of options, one byte per respondent.
/// Its score and top-two box are functions of the code, so the sums the
/// estimator needs can be accumulated per code in a single pass and both
/// figures derived exactly from them ([`estimate_items_coded`]).
#[derive(Debug, Clone, Copy)]
pub struct CodedItem<'a> {
    /// Item id.
    pub id: &'a str,
    /// Code of each respondent's answer; an index into the two tables below.
    pub codes: &'a [u8],
    /// Score (0–100) of each code; `None` = not scored (no answer, "don't know").
    pub score_by_code: &'a [Option<f64>],
    /// Top-two-box membership of each code; `None` where the score is `None`.
    pub top_by_code: &'a [Option<bool>],
}

/// Compensated per (domain, PSU, raking cell, code) sums.
#[derive(Clone, Copy, Default)]
struct CodeCold {
    n: u64,
    sw: NeumaierSum,
    sw2: NeumaierSum,
}

/// Blocks of (w, w²).
impl Absorb<2> for CodeCold {
    fn absorb(&mut self, [sw, sw2]: [f64; 2], count: u32) {
        self.n += u64::from(count);
        self.sw.add(sw);
        self.sw2.add(sw2);
    }
}

/// Item rows (score and top-two box) for the whole sample and each group,
/// in the order of [`estimate_all`], from option codes. Returns `None` when
/// the design does not allow the one-pass method (unclustered designs, or
/// tables too large); the caller then uses [`estimate_all`] on columns. The
/// figures equal those of [`estimate_all`] on the corresponding columns.
pub fn estimate_items_coded(
    design: &Design,
    items: &[CodedItem<'_>],
    grouping: Option<&Grouping<'_>>,
    options: &EstimateOptions,
) -> Result<Option<Vec<Row>>, StatsError> {
    check_options(options)?;
    let Some(psu) = &design.psu else { return Ok(None) };
    let k_count = design.calibration.as_ref().map_or(1, |c| c.cells.k);
    let (slots, n_groups, order): (Vec<u16>, usize, &[u32]) = match grouping {
        Some(g) => (group_slots(design.len(), g)?, g.order.len(), g.order),
        None => (Vec::new(), 0, &[]),
    };
    let max_codes = items.iter().map(|it| it.score_by_code.len()).max().unwrap_or(1);
    if (1 + n_groups) * design.psu_stratum.len() * k_count * max_codes > ONE_PASS_LIMIT {
        return Ok(None);
    }
    for item in items {
        if item.codes.len() != design.len() {
            return Err(StatsError::LengthMismatch {
                what: format!("codes of item '{}'", item.id),
                expected: design.len(),
                got: item.codes.len(),
            });
        }
        if item.top_by_code.len() != item.score_by_code.len()
            || item.score_by_code.iter().flatten().any(|s| !s.is_finite())
        {
            return Err(StatsError::InvalidArgument(format!(
                "item '{}': malformed code tables",
                item.id
            )));
        }
        if let Some(&bad) = item.codes.iter().find(|&&c| c as usize >= item.score_by_code.len()) {
            return Err(StatsError::InvalidArgument(format!(
                "item '{}': code {bad} has no score entry",
                item.id
            )));
        }
    }
    let per_item = run_parallel(items.len(), options.threads, |k| {
        coded_item_stats(design, psu, k_count, &items[k], &slots, n_groups)
    });
    let mut cache = TCache::default();
    let mut rows = Vec::with_capacity(items.len() * (1 + n_groups));
    for d in 0..=n_groups {
        for (item, [score, top]) in items.iter().zip(&per_item) {
            rows.push(Row {
                level: Level::Item,
                id: item.id.to_string(),
                group: if d == 0 { None } else { Some(order[d - 1]) },
                score: finish_with_cache(&score[d], Kind::Mean, options, &mut cache),
                top_box: Some(finish_with_cache(&top[d], Kind::Proportion, options, &mut cache)),
            });
        }
    }
    Ok(Some(rows))
}

/// One pass over an item's codes; then the score's and the top-two box's
/// pair sums follow from the per-code sums: Σy = Σ_c y_c n_c,
/// Σwy = Σ_c y_c Σw_c, Σw and Σw² over the codes with a value.
fn coded_item_stats(
    design: &Design,
    psu: &[u32],
    k_count: usize,
    item: &CodedItem<'_>,
    slots: &[u16],
    n_groups: usize,
) -> [Vec<DomainStats>; 2] {
    let nd = 1 + n_groups;
    let n_codes = item.score_by_code.len();
    let n_pairs = design.psu_stratum.len() * k_count;
    let cells: &[u32] = design.calibration.as_deref().map_or(&[], |c| &c.cells.cell);
    let w = &design.weights;
    let scored: Vec<bool> = item.score_by_code.iter().map(Option::is_some).collect();
    let mut hot = vec![Hot::<2>::default(); nd * n_pairs * n_codes];
    let mut cold = vec![CodeCold::default(); nd * n_pairs * n_codes];
    for (i, &code) in item.codes.iter().enumerate() {
        let c = code as usize;
        if !scored[c] {
            continue;
        }
        let wi = w[i];
        let w2 = wi * wi;
        let pair = psu[i] as usize * k_count + cells.get(i).map_or(0, |&k| k as usize);
        for_domains(slots, i, |d| {
            let j = (d * n_pairs + pair) * n_codes + c;
            hot[j].add([wi, w2], &mut cold[j]);
        });
    }
    for (h, c) in hot.iter_mut().zip(cold.iter_mut()) {
        h.flush(c);
    }
    let values: [Vec<Option<f64>>; 2] = [
        item.score_by_code.to_vec(),
        item.top_by_code
            .iter()
            .map(|t| t.map(|b| if b { 1.0 } else { 0.0 }))
            .collect(),
    ];
    values.map(|value| {
        let mut acc = vec![PairAcc::default(); nd * n_pairs];
        let mut sw2 = vec![NeumaierSum::ZERO; nd];
        for (j, a) in acc.iter_mut().enumerate() {
            let d = j / n_pairs;
            for (c, v) in value.iter().enumerate() {
                let (Some(v), true) = (*v, scored[c]) else { continue };
                let x = &cold[j * n_codes + c];
                if x.n == 0 {
                    continue;
                }
                a.n += x.n;
                a.sw.merge(&x.sw);
                a.swy.add_scaled(v, &x.sw);
                a.sy.add_product(v, x.n as f64);
                sw2[d].merge(&x.sw2);
            }
        }
        finish_pairs(design, k_count, &acc, &sw2, n_groups)
    })
}
