//! Weighted means with linearised (Taylor) standard errors, domain
//! estimation, t and logit confidence intervals, totals, design effects
//! and answer distributions (docs/statistics.md §4).
//!
//! For a domain S (a group, or everyone) and a variable y:
//!
//! * `Ŷ = Σ_S w_i y_i / Σ_S w_i`, `n = |S|`, `n_eff = (Σ_S w)² / Σ_S w²`;
//! * `u_i = (y_i − Ŷ) / Σ_S w` for i in S, 0 for every other respondent,
//!   `z_i = w_i u_i` (the design is never cut down to the domain);
//! * raked designs: `z_i ← w_i (u_i − Σ_m α_{m,c_m(i)})`, α from 10 rounds
//!   of the per-margin centring of R's `svyrecvar`, or for bounded raking
//!   the coefficients of calibrate's design-weighted regression (see
//!   `Calibration::alpha` in [`super::rake`]), computed on category sums;
//! * totals: `u_i = y_i` (not centred); the rest as for means;
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
    /// A value per answer code (`values[code]`, `None` missing): an item's
    /// option indicators without a column of their own.
    Coded { codes: &'a [u8], values: &'a [Option<f64>] },
}

impl Column<'_> {
    fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Indicator(v) => v.len(),
            Column::Coded { codes, .. } => codes.len(),
        }
    }

    /// Respondent i's value; `NaN` when missing.
    #[inline(always)]
    pub(super) fn value(&self, i: usize) -> f64 {
        match self {
            Column::Numeric(v) => v[i],
            Column::Indicator(v) => match v[i] {
                Some(true) => 1.0,
                Some(false) => 0.0,
                None => f64::NAN,
            },
            Column::Coded { codes, values } => values[codes[i] as usize].unwrap_or(f64::NAN),
        }
    }

    /// One value per respondent of `design`, and every value finite.
    pub(super) fn check(&self, design: &Design, what: &str) -> Result<(), StatsError> {
        if self.len() != design.len() {
            return Err(StatsError::LengthMismatch {
                what: format!("values of '{what}'"),
                expected: design.len(),
                got: self.len(),
            });
        }
        let bad = match self {
            Column::Numeric(v) => v.iter().position(|x| x.is_infinite()),
            Column::Indicator(_) => None,
            Column::Coded { codes, values } => {
                if let Some(&code) = codes.iter().find(|&&c| c as usize >= values.len()) {
                    return Err(StatsError::InvalidArgument(format!(
                        "'{what}': code {code} has no value"
                    )));
                }
                codes
                    .iter()
                    .position(|&c| values[c as usize].is_some_and(|x| x.is_infinite()))
            }
        };
        match bad {
            Some(index) => Err(StatsError::InvalidValue {
                variable: what.into(),
                index,
                value: self.value(index),
            }),
            None => Ok(()),
        }
    }
}

/// Mean of a score, or share (proportion) of an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Score mean: t interval, precision threshold 30 points.
    Mean,
    /// Share of the top two in [0, 1]: logit interval, precision
    /// threshold 0.30.
    Proportion,
    /// Share of one answer option (a distribution): the Wald t interval
    /// of R's `confint(svymean(~factor))`, precision threshold 0.30.
    Share,
    /// Weighted total (`svytotal`): t interval; imprecise when its CV
    /// exceeds [`TOTAL_CV_LIMIT`].
    Total,
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
    /// Lonely PSU rule `average` with every stratum of the domain lonely:
    /// there is no other stratum to average.
    NoVariance,
    /// Bootstrap: fewer than two replicates gave the domain any weight.
    TooFewReplicates,
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
            CiUnavailable::NoVariance => {
                "no standard error: every stratum of the domain has a single PSU, so --lonely-psu average has nothing to average"
            }
            CiUnavailable::TooFewReplicates => {
                "no bootstrap standard error: fewer than two replicates gave this domain any weight"
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
    /// n_eff < 30, df < 8 or CI wider than 30 points (0.30 for shares;
    /// a CV above 0.3 for totals).
    pub low_precision: bool,
    /// Design effect: the variance over that of a simple random sample
    /// of the same size (R's default, without replacement; None where it
    /// is not defined).
    pub deff: Option<f64>,
    /// Coefficient of variation SE / |estimate| (None for an estimate of 0).
    pub cv: Option<f64>,
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
    /// Top-two-box total: the estimated number of satisfied people (items).
    pub top_box_total: Option<Estimate>,
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
    /// Σ w y: the estimated total.
    pub total: f64,
    /// Weighted variance of y, `Σ w (y − Ŷ)² / Σ w · n/(n−1)` (R's
    /// `svyvar`; NaN when n < 2): the element variance behind a design
    /// effect.
    pub s2: f64,
    /// Linearised variance of the mean, or of the total for
    /// [`Statistic::Total`].
    pub variance: f64,
    /// Degrees of freedom.
    pub df: u64,
}

/// Which figure of a column a domain gets: its weighted mean (`svymean`)
/// or its weighted total (`svytotal`). They differ in the linearised
/// values: `(y − Ŷ)/Σw` for the mean, `y` for the total (not centred).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Statistic {
    #[default]
    Mean,
    Total,
}

pub(super) const NO_GROUP: u16 = u16::MAX;

#[derive(Clone, Copy, Default)]
struct Acc {
    n: u64,
    sw: NeumaierSum,
    swy: NeumaierSum,
    sw2: NeumaierSum,
    swy2: NeumaierSum,
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
pub(super) fn domain_stats(
    design: &Design,
    column: Column<'_>,
    statistic: Statistic,
    slots: &[u16],
    n_groups: usize,
) -> Vec<DomainStats> {
    // The numeric case is the hot one: a closure without a match.
    match column {
        Column::Numeric(v) => domain_stats_impl(design, |i| v[i], statistic, slots, n_groups),
        other => domain_stats_impl(design, |i| other.value(i), statistic, slots, n_groups),
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

fn domain_stats_impl<F: Fn(usize) -> f64>(
    design: &Design,
    get: F,
    statistic: Statistic,
    slots: &[u16],
    n_groups: usize,
) -> Vec<DomainStats> {
    if let Some(psu) = &design.psu {
        let k = design.calibration.as_ref().map_or(1, |c| c.cells.k);
        if (1 + n_groups) * design.psu_stratum.len() * k <= ONE_PASS_LIMIT {
            return one_pass_clustered(design, psu, k, get, statistic, slots, n_groups);
        }
    }
    two_pass(design, get, statistic, slots, n_groups)
}

/// Per (domain, PSU, raking cell) compensated sums.
#[derive(Clone, Copy, Default)]
struct PairAcc {
    n: u64,
    sy: NeumaierSum,
    sw: NeumaierSum,
    swy: NeumaierSum,
}

/// Per-domain sums of squares: Σw² (for n_eff) and Σwy² (for s²).
#[derive(Clone, Copy, Default)]
struct SquareSums {
    sw2: NeumaierSum,
    swy2: NeumaierSum,
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
    statistic: Statistic,
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
    let mut blocked_swy2 = vec![BlockedSum::default(); nd];
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
        let wy2 = wy * y;
        for_domains(slots, i, |d| {
            let j = d * n_pairs + pair;
            hot[j].add([y, wi, wy], &mut acc[j]);
            blocked_sw2[d].add(w2);
            blocked_swy2[d].add(wy2);
        });
    }
    for (h, cold) in hot.iter_mut().zip(acc.iter_mut()) {
        h.flush(cold);
    }
    let squares: Vec<SquareSums> = blocked_sw2
        .iter()
        .zip(&blocked_swy2)
        .map(|(a, b)| SquareSums {
            sw2: a.finish(),
            swy2: b.finish(),
        })
        .collect();
    finish_pairs(design, k_count, &acc, &squares, statistic, n_groups)
}

/// `Σ w (y − Ŷ)² / Σ w · n/(n−1)` from Σwy², Σwy and Ŷ.
fn element_variance(n: u64, sum_w: f64, swy2: &NeumaierSum, swy: &NeumaierSum, mean: f64) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    let mut ss = *swy2;
    ss.add_scaled(-mean, swy);
    let n = n as f64;
    (ss.value() / sum_w * n / (n - 1.0)).max(0.0)
}

/// Domain statistics from the sums per (domain, PSU, raking cell) and the
/// squares per domain: means, df, PSU totals of the linearised values
/// (adjusted for raking) and the variance.
fn finish_pairs(
    design: &Design,
    k_count: usize,
    acc: &[PairAcc],
    squares: &[SquareSums],
    statistic: Statistic,
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
            sum_w2: squares[d].sw2.value(),
            mean: f64::NAN,
            total: swy.value(),
            s2: f64::NAN,
            variance: 0.0,
            df: 0,
        };
        if count == 0 {
            out.push(st);
            continue;
        }
        let mean = swy.value() / total;
        st.mean = mean;
        st.s2 = element_variance(count, total, &squares[d].swy2, &swy, mean);
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
        // PSU totals of z, and per raking category the sums of u and of d·u
        let mut u_sums = vec![NeumaierSum::ZERO; nf];
        let mut du_sums = vec![NeumaierSum::ZERO; nf];
        for (p, tp) in t.iter_mut().enumerate() {
            let mut s = NeumaierSum::ZERO;
            for k in 0..k_count {
                let x = &a[p * k_count + k];
                if x.n == 0 {
                    continue;
                }
                // Mean: z = (Σwy − Ŷ Σw)/W, u = (Σy − n Ŷ)/W, with the
                // compensation terms kept. Total: z = Σwy, u = Σy.
                let (z, u) = match statistic {
                    Statistic::Mean => {
                        let mut e = x.swy;
                        e.add_scaled(-mean, &x.sw);
                        let mut q = x.sy;
                        q.add_product(-(x.n as f64), mean);
                        (e.value() / total, q.value() / total)
                    }
                    Statistic::Total => (x.swy.value(), x.sy.value()),
                };
                s.add(z);
                if let Some(c) = cal {
                    // Within a raking cell every weight is d·g_k.
                    let du = z / c.cell_factor[k];
                    for &f in &c.cells.flat[k * n_m..(k + 1) * n_m] {
                        u_sums[f as usize].add(u);
                        du_sums[f as usize].add(du);
                    }
                }
            }
            *tp = s.value();
        }
        if let Some(c) = cal {
            let us: Vec<f64> = u_sums.iter().map(|s| s.value()).collect();
            let dus: Vec<f64> = du_sums.iter().map(|s| s.value()).collect();
            let alpha = c.alpha(&us, &dus);
            for (p, tp) in t.iter_mut().enumerate() {
                let mut s = NeumaierSum::ZERO;
                s.add(*tp);
                for (f, &al) in alpha.iter().enumerate() {
                    s.add(-al * c.psu_cat_w[p * nf + f]);
                }
                *tp = s.value();
            }
        }
        st.variance = stratified_variance(design, &t, &strata);
        out.push(st);
    }
    out
}

/// Two passes over the respondents (the mean first, then the linearised
/// values); used for unclustered designs and very large PSU tables.
pub(super) fn two_pass<F: Fn(usize) -> f64>(
    design: &Design,
    get: F,
    statistic: Statistic,
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
            a.swy2.add(wi * y * y);
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
    // The linearised value is u = (y − centre)/scale.
    let (centre, scale): (Vec<f64>, Vec<f64>) = match statistic {
        Statistic::Mean => (mean.clone(), acc.iter().map(|a| a.sw.value()).collect()),
        Statistic::Total => (vec![0.0; nd], vec![1.0; nd]),
    };
    // Strata with members of each domain.
    let present: Vec<bool> = match &design.psu {
        Some(_) => {
            let mut present = vec![false; nd * h_count];
            for d in 0..nd {
                for (p, &h) in design.psu_stratum.iter().enumerate() {
                    if seen[d * units + p] {
                        present[d * h_count + h as usize] = true;
                    }
                }
            }
            present
        }
        None => seen.clone(),
    };

    // Pass 2: linearised values.
    let nf = cal.map_or(0, |c| c.n_flat);
    let n_m = cal.map_or(0, |c| c.margins.len());
    let mut u_sums = vec![NeumaierSum::ZERO; nd * nf];
    let mut du_sums = vec![NeumaierSum::ZERO; nd * nf];
    let mut variance = vec![0.0; nd];
    let alpha_of = |d: usize, u_sums: &[NeumaierSum], du_sums: &[NeumaierSum]| -> Vec<f64> {
        let c = cal.expect("raked design");
        let us: Vec<f64> = u_sums[d * nf..(d + 1) * nf].iter().map(|s| s.value()).collect();
        let dus: Vec<f64> = du_sums[d * nf..(d + 1) * nf].iter().map(|s| s.value()).collect();
        c.alpha(&us, &dus)
    };
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
                    let u = (y - centre[d]) / scale[d];
                    a[d * p_count + p].add(wi * u);
                    if let Some(c) = cal {
                        let k = c.cells.cell[i] as usize;
                        let du = c.base_weights[i] * u;
                        for &f in &c.cells.flat[k * n_m..(k + 1) * n_m] {
                            u_sums[d * nf + f as usize].add(u);
                            du_sums[d * nf + f as usize].add(du);
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
                    let alpha = alpha_of(d, &u_sums, &du_sums);
                    for (p, tp) in t.iter_mut().enumerate() {
                        let mut s = NeumaierSum::ZERO;
                        s.add(*tp);
                        for (f, &al) in alpha.iter().enumerate() {
                            s.add(-al * c.psu_cat_w[p * nf + f]);
                        }
                        *tp = s.value();
                    }
                }
                variance[d] = stratified_variance(design, &t, &present[d * h_count..(d + 1) * h_count]);
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
                    let u = (y - centre[d]) / scale[d];
                    let z = wi * u;
                    sz[d * h_count + h].add(z);
                    szz[d * h_count + h].add(z * z);
                    if let Some(c) = cal {
                        let k = c.cells.cell[i] as usize;
                        r[(d * h_count + h) * k_count + k].add(wi * z);
                        let du = c.base_weights[i] * u;
                        for &f in &c.cells.flat[k * n_m..(k + 1) * n_m] {
                            u_sums[d * nf + f as usize].add(u);
                            du_sums[d * nf + f as usize].add(du);
                        }
                    }
                });
            }
            for d in 0..nd {
                if acc[d].n == 0 {
                    continue;
                }
                let a_cell: Option<Vec<f64>> = cal.map(|c| {
                    let alpha = alpha_of(d, &u_sums, &du_sums);
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
                    &present[d * h_count..(d + 1) * h_count],
                );
            }
        }
    }

    // Degrees of freedom.
    let mut out = Vec::with_capacity(nd);
    for d in 0..nd {
        let df = match &design.psu {
            Some(_) => {
                let psus = seen[d * units..(d + 1) * units].iter().filter(|&&b| b).count() as u64;
                let strata = present[d * h_count..(d + 1) * h_count].iter().filter(|&&b| b).count() as u64;
                psus - strata
            }
            None => {
                let strata = seen[d * units..(d + 1) * units].iter().filter(|&&b| b).count() as u64;
                acc[d].n - strata
            }
        };
        let sum_w = acc[d].sw.value();
        out.push(DomainStats {
            n: acc[d].n,
            sum_w,
            sum_w2: acc[d].sw2.value(),
            mean: mean[d],
            total: acc[d].swy.value(),
            s2: element_variance(acc[d].n, sum_w, &acc[d].swy2, &acc[d].swy, mean[d]),
            variance: variance[d],
            df,
        });
    }
    out
}

/// `Σ_h n_h/(n_h−1) Σ_c (t_hc − t̄_h)²` from PSU totals (all PSUs of the
/// sample; PSUs without domain members have total 0); a stratum with one
/// PSU counts as the design's [`super::LonelyPsu`] rule says. `present`
/// marks the strata with members of the domain.
fn stratified_variance(design: &Design, t: &[f64], present: &[bool]) -> f64 {
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
        present,
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

/// `e` with a bootstrap standard error in place of the linearised one: the
/// CI, design effect, CV and precision flag are recomputed from it with the
/// same degrees of freedom. Without an estimate `e` is returned unchanged;
/// without a bootstrap SE (fewer than two replicates gave the domain
/// weight) it has no SE and says why, rather than keep the linearised one.
pub fn with_standard_error(e: &Estimate, se: Option<f64>, kind: Kind, options: &EstimateOptions) -> Estimate {
    let Some(value) = e.estimate else {
        return e.clone();
    };
    let mut out = e.clone();
    let Some(se) = se else {
        out.se = None;
        out.ci_low = None;
        out.ci_high = None;
        out.deff = None;
        out.cv = None;
        out.ci_unavailable = Some(CiUnavailable::TooFewReplicates);
        out.low_precision = true;
        return out;
    };
    // The design effect's denominator (the SRS variance) does not change.
    out.deff = match (e.deff, e.se) {
        (Some(deff), Some(old)) if old > 0.0 => Some(deff * (se / old).powi(2)),
        _ => None,
    };
    let t = if e.df == 0 {
        None
    } else {
        t_critical(e.df as f64, options.level)
    };
    set_interval(&mut out, value, se, kind, t);
    out
}

/// Turn raw domain statistics into a published [`Estimate`] (suppression,
/// CI, design effect, CV, precision flag).
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
        deff: None,
        cv: None,
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
    let value = match kind {
        Kind::Total => st.total,
        _ => st.mean,
    };
    e.estimate = Some(value);
    if st.variance.is_nan() {
        e.ci_unavailable = Some(CiUnavailable::NoVariance);
        e.low_precision = true;
        return e;
    }
    let se = st.variance.max(0.0).sqrt();
    e.deff = design_effect(st, kind);
    let t = if st.df == 0 {
        None
    } else {
        cache.get(st.df, options.level)
    };
    set_interval(&mut e, value, se, kind, t);
    e
}

/// R's default design effect (`svymean(…, deff = TRUE)`): the variance
/// over that of a simple random sample of the same size drawn without
/// replacement from a population of the domain's Σw,
/// `(1 − n/Σw) s²/n` for a mean, `Σw² (1 − n/Σw) s²/n` for a total.
/// Not defined when Σw ≤ n (unweighted data) or y is constant.
fn design_effect(st: &DomainStats, kind: Kind) -> Option<f64> {
    let n = st.n as f64;
    let srs = (1.0 - n / st.sum_w) * st.s2 / n;
    let srs = match kind {
        Kind::Total => srs * st.sum_w * st.sum_w,
        _ => srs,
    };
    let deff = st.variance / srs;
    (srs > 0.0 && deff.is_finite()).then_some(deff)
}

/// Set the SE, the interval (t-based, logit for shares of the top two),
/// the CV and the precision flag of an estimate.
fn set_interval(e: &mut Estimate, value: f64, se: f64, kind: Kind, t: Option<f64>) {
    e.se = Some(se);
    e.cv = (value != 0.0).then(|| se / value.abs());
    e.ci_low = None;
    e.ci_high = None;
    e.ci_unavailable = None;
    match t {
        None => e.ci_unavailable = Some(CiUnavailable::NoDegreesOfFreedom),
        Some(t) => match kind {
            Kind::Mean | Kind::Share | Kind::Total => {
                e.ci_low = Some(value - t * se);
                e.ci_high = Some(value + t * se);
            }
            Kind::Proportion => {
                let p = value;
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
    let imprecise = match kind {
        Kind::Mean => wider_than(e, 30.0),
        Kind::Proportion | Kind::Share => wider_than(e, 0.30),
        Kind::Total => e.cv.is_some_and(|cv| cv > TOTAL_CV_LIMIT),
    };
    e.low_precision = e.n_eff.is_some_and(|x| x < 30.0) || e.df < 8 || imprecise;
}

/// A total whose SE exceeds this fraction of it is flagged imprecise
/// (docs/statistics.md §6.3).
pub const TOTAL_CV_LIMIT: f64 = 0.3;

fn wider_than(e: &Estimate, limit: f64) -> bool {
    matches!((e.ci_low, e.ci_high), (Some(a), Some(b)) if b - a > limit)
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
    column.check(design, what)
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

impl Kind {
    /// The statistic a figure of this kind is: a mean, or a total.
    pub fn statistic(self) -> Statistic {
        match self {
            Kind::Total => Statistic::Total,
            Kind::Mean | Kind::Proportion | Kind::Share => Statistic::Mean,
        }
    }
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
        None => domain_stats(design, column, kind.statistic(), &[], 0)[0],
        Some((codes, code)) => {
            let slots = group_slots(design.len(), &Grouping { codes, order: &[code] })?;
            domain_stats(design, column, kind.statistic(), &slots, 1)[1]
        }
    };
    Ok(finish_estimate(&st, kind, options))
}

/// Every figure of some columns, each as its kind says: `[column][domain]`,
/// domain 0 the whole sample and 1 + k the k-th group of `grouping.order`.
/// Runs `options.threads` worker threads over the columns.
pub fn estimate_columns(
    design: &Design,
    columns: &[(Column<'_>, Kind)],
    grouping: Option<&Grouping<'_>>,
    options: &EstimateOptions,
) -> Result<Vec<Vec<Estimate>>, StatsError> {
    check_options(options)?;
    for (column, _) in columns {
        check_column(design, "variable", *column)?;
    }
    let (slots, n_groups) = slots_of(design, grouping)?;
    let results = run_parallel(columns.len(), options.threads, |j| {
        domain_stats(design, columns[j].0, columns[j].1.statistic(), &slots, n_groups)
    });
    let mut cache = TCache::default();
    Ok(results
        .iter()
        .zip(columns)
        .map(|(stats, (_, kind))| {
            stats
                .iter()
                .map(|st| finish_with_cache(st, *kind, options, &mut cache))
                .collect()
        })
        .collect())
}

fn slots_of(design: &Design, grouping: Option<&Grouping<'_>>) -> Result<(Vec<u16>, usize), StatsError> {
    match grouping {
        Some(g) => Ok((group_slots(design.len(), g)?, g.order.len())),
        None => Ok((Vec::new(), 0)),
    }
}

fn group_of(grouping: Option<&Grouping<'_>>, d: usize) -> Option<u32> {
    match (d, grouping) {
        (0, _) | (_, None) => None,
        (d, Some(g)) => Some(g.order[d - 1]),
    }
}

/// Compute every row: for the whole sample and then for each group in
/// `grouping.order`, each variable in the given order (score estimate,
/// and for items the top-two box as a share and as a total).
pub fn estimate_all(
    design: &Design,
    variables: &[Variable<'_>],
    grouping: Option<&Grouping<'_>>,
    options: &EstimateOptions,
) -> Result<Vec<Row>, StatsError> {
    for v in variables {
        check_column(design, &v.id, Column::Numeric(v.score))?;
    }
    let mut columns: Vec<(Column<'_>, Kind)> = Vec::new();
    for v in variables {
        columns.push((Column::Numeric(v.score), Kind::Mean));
        if let Some(t) = v.top_box {
            columns.push((Column::Indicator(t), Kind::Proportion));
            columns.push((Column::Indicator(t), Kind::Total));
        }
    }
    let results = estimate_columns(design, &columns, grouping, options)?;
    let n_domains = 1 + grouping.map_or(0, |g| g.order.len());
    let mut rows = Vec::with_capacity(variables.len() * n_domains);
    for d in 0..n_domains {
        let mut j = 0;
        for v in variables {
            let score = results[j][d].clone();
            j += 1;
            let (top_box, top_box_total) = if v.top_box.is_some() {
                j += 2;
                (Some(results[j - 2][d].clone()), Some(results[j - 1][d].clone()))
            } else {
                (None, None)
            };
            rows.push(Row {
                level: v.level,
                id: v.id.clone(),
                group: group_of(grouping, d),
                score,
                top_box,
                top_box_total,
            });
        }
    }
    Ok(rows)
}

/// The estimated population of the whole sample and of each group
/// (`svytotal(~one)`): Σw with its SE, `[domain]` as in
/// [`estimate_columns`].
pub fn population_totals(
    design: &Design,
    grouping: Option<&Grouping<'_>>,
    options: &EstimateOptions,
) -> Result<Vec<Estimate>, StatsError> {
    let ones = vec![1.0; design.len()];
    let mut out = estimate_columns(design, &[(Column::Numeric(&ones), Kind::Total)], grouping, options)?;
    Ok(without_deff(out.pop().unwrap_or_default()))
}

/// A population's design effect is not defined (§4.3: y = 1 is a
/// constant); its s² is 0 only up to the rounding of two sums of the
/// same weights, which left a meaningless figure where it came out above 0.
pub(super) fn without_deff(mut populations: Vec<Estimate>) -> Vec<Estimate> {
    for e in &mut populations {
        e.deff = None;
    }
    populations
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

/// A question's answers as option codes, for its distribution: 0 is no
/// answer, `k` (1..=options) the k-th option ("don't know" is an option).
#[derive(Debug, Clone, Copy)]
pub struct CodedAnswers<'a> {
    /// Question id.
    pub id: &'a str,
    /// Code of each respondent's answer.
    pub codes: &'a [u8],
    /// Number of options.
    pub options: usize,
}

impl CodedAnswers<'_> {
    /// One value table per option, by code: 1 for the option, 0 for the
    /// other answers, no value without an answer. Its mean in a domain is
    /// the option's share (for [`Column::Coded`]).
    pub fn indicator_tables(&self) -> Vec<Vec<Option<f64>>> {
        (1..=self.options)
            .map(|k| {
                (0..=self.options)
                    .map(|c| (c != 0).then_some(if c == k { 1.0 } else { 0.0 }))
                    .collect()
            })
            .collect()
    }
}

/// The share of one option among a domain's respondents who answered.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionShare {
    /// Question id.
    pub id: String,
    /// Group code (None: whole sample).
    pub group: Option<u32>,
    /// Option index (0-based).
    pub option: usize,
    /// Respondents of the domain who chose the option.
    pub count: u64,
    /// Its weighted share (n: the domain's respondents who answered).
    pub share: Estimate,
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

/// Whether the one-pass coded method applies: a clustered design and a
/// (domains × PSUs × raking cells × codes) table of bounded size.
fn coded_fits(design: &Design, n_groups: usize, max_codes: usize) -> bool {
    let k_count = design.calibration.as_ref().map_or(1, |c| c.cells.k);
    design.psu.is_some() && (1 + n_groups) * design.psu_stratum.len() * k_count * max_codes <= ONE_PASS_LIMIT
}

fn check_codes(design: &Design, id: &str, codes: &[u8], code_count: usize) -> Result<(), StatsError> {
    if codes.len() != design.len() {
        return Err(StatsError::LengthMismatch {
            what: format!("codes of item '{id}'"),
            expected: design.len(),
            got: codes.len(),
        });
    }
    if let Some(&bad) = codes.iter().find(|&&c| c as usize >= code_count) {
        return Err(StatsError::InvalidArgument(format!(
            "item '{id}': code {bad} has no entry in its tables"
        )));
    }
    Ok(())
}

/// Item rows (score, top-two box as a share and as a total) for the whole
/// sample and each group, in the order of [`estimate_all`], from option
/// codes. Returns `None` when the design does not allow the one-pass
/// method (unclustered designs, or tables too large); the caller then uses
/// [`estimate_all`] on columns. The figures equal those of
/// [`estimate_all`] on the corresponding columns.
pub fn estimate_items_coded(
    design: &Design,
    items: &[CodedItem<'_>],
    grouping: Option<&Grouping<'_>>,
    options: &EstimateOptions,
) -> Result<Option<Vec<Row>>, StatsError> {
    check_options(options)?;
    let (slots, n_groups) = slots_of(design, grouping)?;
    let max_codes = items.iter().map(|it| it.score_by_code.len()).max().unwrap_or(1);
    if !coded_fits(design, n_groups, max_codes) {
        return Ok(None);
    }
    for item in items {
        if item.top_by_code.len() != item.score_by_code.len()
            || item.score_by_code.iter().flatten().any(|s| !s.is_finite())
        {
            return Err(StatsError::InvalidArgument(format!(
                "item '{}': malformed code tables",
                item.id
            )));
        }
        check_codes(design, item.id, item.codes, item.score_by_code.len())?;
    }
    let per_item = run_parallel(items.len(), options.threads, |k| {
        let item = &items[k];
        let top: Vec<Option<f64>> = item
            .top_by_code
            .iter()
            .map(|t| t.map(|b| if b { 1.0 } else { 0.0 }))
            .collect();
        coded_stats(
            design,
            item.codes,
            &[
                (item.score_by_code, Statistic::Mean),
                (&top, Statistic::Mean),
                (&top, Statistic::Total),
            ],
            &slots,
            n_groups,
        )
    });
    let mut cache = TCache::default();
    let mut rows = Vec::with_capacity(items.len() * (1 + n_groups));
    for d in 0..=n_groups {
        for (item, stats) in items.iter().zip(&per_item) {
            rows.push(Row {
                level: Level::Item,
                id: item.id.to_string(),
                group: group_of(grouping, d),
                score: finish_with_cache(&stats[0][d], Kind::Mean, options, &mut cache),
                top_box: Some(finish_with_cache(&stats[1][d], Kind::Proportion, options, &mut cache)),
                top_box_total: Some(finish_with_cache(&stats[2][d], Kind::Total, options, &mut cache)),
            });
        }
    }
    Ok(Some(rows))
}

/// Answer distributions: for each question, domain and option, the share
/// of the domain's respondents who answered that chose the option, with
/// its Wald interval (R's `svymean(~factor)` and `confint`); ordered by
/// question, then domain, then option. One pass per question where the
/// design allows it, else one column per option.
pub fn distributions(
    design: &Design,
    questions: &[CodedAnswers<'_>],
    grouping: Option<&Grouping<'_>>,
    options: &EstimateOptions,
) -> Result<Vec<OptionShare>, StatsError> {
    check_options(options)?;
    let (slots, n_groups) = slots_of(design, grouping)?;
    for q in questions {
        check_codes(design, q.id, q.codes, q.options + 1)?;
    }
    let tables = |q: &CodedAnswers<'_>| q.indicator_tables();
    let max_codes = questions.iter().map(|q| q.options + 1).max().unwrap_or(1);
    let stats: Vec<Vec<Vec<DomainStats>>> = if coded_fits(design, n_groups, max_codes) {
        run_parallel(questions.len(), options.threads, |j| {
            let tables = tables(&questions[j]);
            let with: Vec<(&[Option<f64>], Statistic)> =
                tables.iter().map(|t| (t.as_slice(), Statistic::Mean)).collect();
            coded_stats(design, questions[j].codes, &with, &slots, n_groups)
        })
    } else {
        questions
            .iter()
            .map(|q| {
                let tables = tables(q);
                run_parallel(tables.len(), options.threads, |k| {
                    let column = Column::Coded {
                        codes: q.codes,
                        values: &tables[k],
                    };
                    domain_stats(design, column, Statistic::Mean, &slots, n_groups)
                })
            })
            .collect()
    };
    let mut cache = TCache::default();
    let mut out = Vec::new();
    for (q, per_option) in questions.iter().zip(&stats) {
        let mut counts = vec![0u64; (1 + n_groups) * (q.options + 1)];
        for (i, &c) in q.codes.iter().enumerate() {
            for_domains(&slots, i, |d| counts[d * (q.options + 1) + c as usize] += 1);
        }
        for d in 0..=n_groups {
            for (k, st) in per_option.iter().enumerate() {
                out.push(OptionShare {
                    id: q.id.to_string(),
                    group: group_of(grouping, d),
                    option: k,
                    count: counts[d * (q.options + 1) + k + 1],
                    share: finish_with_cache(&st[d], Kind::Share, options, &mut cache),
                });
            }
        }
    }
    Ok(out)
}

/// One pass over a question's codes accumulating Σw, Σw² and n per
/// (domain, PSU, raking cell, code); then, for each value table, the pair
/// sums follow from the per-code sums (Σy = Σ_c y_c n_c, Σwy = Σ_c y_c Σw_c,
/// Σwy² = Σ_c y_c² Σw_c, over the codes with a value) and are finished as
/// the table's statistic. Returns `[table][domain]`.
fn coded_stats(
    design: &Design,
    codes: &[u8],
    tables: &[(&[Option<f64>], Statistic)],
    slots: &[u16],
    n_groups: usize,
) -> Vec<Vec<DomainStats>> {
    let psu = design.psu.as_deref().expect("coded statistics need a clustered design");
    let k_count = design.calibration.as_ref().map_or(1, |c| c.cells.k);
    let nd = 1 + n_groups;
    let n_codes = tables.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    let n_pairs = design.psu_stratum.len() * k_count;
    let cells: &[u32] = design.calibration.as_deref().map_or(&[], |c| &c.cells.cell);
    let w = &design.weights;
    let used: Vec<bool> = (0..n_codes)
        .map(|c| tables.iter().any(|(t, _)| t.get(c).is_some_and(Option::is_some)))
        .collect();
    let mut hot = vec![Hot::<2>::default(); nd * n_pairs * n_codes];
    let mut cold = vec![CodeCold::default(); nd * n_pairs * n_codes];
    for (i, &code) in codes.iter().enumerate() {
        let c = code as usize;
        if !used[c] {
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
    tables
        .iter()
        .map(|&(table, statistic)| {
            let mut acc = vec![PairAcc::default(); nd * n_pairs];
            let mut squares = vec![SquareSums::default(); nd];
            for (j, a) in acc.iter_mut().enumerate() {
                let d = j / n_pairs;
                for (c, v) in table.iter().enumerate() {
                    let Some(v) = *v else { continue };
                    let x = &cold[j * n_codes + c];
                    if x.n == 0 {
                        continue;
                    }
                    a.n += x.n;
                    a.sw.merge(&x.sw);
                    a.swy.add_scaled(v, &x.sw);
                    a.sy.add_product(v, x.n as f64);
                    squares[d].sw2.merge(&x.sw2);
                    squares[d].swy2.add_scaled(v * v, &x.sw);
                }
            }
            finish_pairs(design, k_count, &acc, &squares, statistic, n_groups)
        })
        .collect()
}
