//! The figures of §4–§5 from sufficient statistics: sums over groups of
//! respondents instead of the respondents themselves
//! (docs/statistics.md §4.6).
//!
//! A database can add up a million respondents where they are stored and
//! send a few thousand sums instead of a million rows. Every figure except
//! the bootstrap is a function of sums over respondents who share
//!
//! * a stratum and a PSU: a cluster, or for respondents who are their own
//!   PSU (open-link answers, frame designs, weights `none`) only the
//!   stratum, with second moments (Σd², Σd²y, Σd²y²) standing in for
//!   their individual linearised values, since `Σ_i z_i²` is all the
//!   variance needs of them;
//! * a joint cell of the raking margins: the raking factor is the same for
//!   every respondent of a cell, so raking the cell totals is raking the
//!   respondents (the engine itself already rakes per cell, see
//!   [`super::rake`]), and a cell's sums in final weights are its sums in
//!   design weights times the factor;
//! * a domain (a `--by` group).
//!
//! Such a group is a [`Unit`]; each variable gives [`Moments`] per unit.
//! [`SufficientDesign::domain_stats`] turns them into the same
//! [`DomainStats`] the respondent-level estimators do (R's linearisation,
//! the lonely-PSU rules, raking's residual adjustment as §5 and §5.2
//! define it), and [`finish_estimate`] does the rest, so only the order of
//! summation differs from [`super::estimate_all`].
//!
//! Not covered: the bootstrap resamples individual PSUs of respondents who
//! are their own PSU, which no sum over a stratum keeps apart; callers use
//! the respondent-level engine for it.

use super::design::{combine_strata, lonely_strata, LonelyPsu, WeightMode};
use super::error::StatsError;
use super::estimate::{finish_estimate, without_deff, DomainStats, Estimate, EstimateOptions, Kind, Statistic};
use super::rake::{
    calibration_setup, finish_calibration, Calibration, Margin, RakeOptions, RakingDiagnostics, WeightBounds,
    WeightSummary,
};
use super::summation::NeumaierSum;

/// Sums of a variable over the respondents of one unit who have a value,
/// in design weights d (y the value): n, Σd, Σd², Σy, Σdy, Σdy², Σd²y,
/// Σd²y². The last two matter only for units whose respondents are their
/// own PSUs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub sd: f64,
    pub sd2: f64,
    pub sy: f64,
    pub sdy: f64,
    pub sdy2: f64,
    pub sd2y: f64,
    pub sd2y2: f64,
}

impl Moments {
    /// `n` respondents with weight sums `sd`, `sd2` who all have the value
    /// `y` (an answer code's score, an indicator, 1 for a population).
    pub fn constant(n: u64, sd: f64, sd2: f64, y: f64) -> Moments {
        Moments {
            n,
            sd,
            sd2,
            sy: y * n as f64,
            sdy: y * sd,
            sdy2: y * y * sd,
            sd2y: y * sd2,
            sd2y2: y * y * sd2,
        }
    }

    /// The sums with every weight multiplied by `f`.
    pub fn scaled(&self, f: f64) -> Moments {
        let f2 = f * f;
        Moments {
            n: self.n,
            sd: self.sd * f,
            sd2: self.sd2 * f2,
            sy: self.sy,
            sdy: self.sdy * f,
            sdy2: self.sdy2 * f,
            sd2y: self.sd2y * f2,
            sd2y2: self.sd2y2 * f2,
        }
    }
}

/// Compensated [`Moments`], for adding many parts (e.g. the answer codes
/// of an item) into one unit's.
#[derive(Debug, Clone, Copy, Default)]
pub struct MomentSums {
    n: u64,
    sums: [NeumaierSum; 7],
}

impl MomentSums {
    pub fn add(&mut self, m: &Moments) {
        self.n += m.n;
        let parts = [m.sd, m.sd2, m.sy, m.sdy, m.sdy2, m.sd2y, m.sd2y2];
        for (s, x) in self.sums.iter_mut().zip(parts) {
            s.add(x);
        }
    }

    /// `n` respondents with weight sums `sd`, `sd2` and the value `y`,
    /// the products kept exact.
    pub fn add_constant(&mut self, n: u64, sd: f64, sd2: f64, y: f64) {
        self.n += n;
        let s = &mut self.sums;
        s[0].add(sd);
        s[1].add(sd2);
        s[2].add_product(y, n as f64);
        s[3].add_product(y, sd);
        s[4].add_product(y * y, sd);
        s[5].add_product(y, sd2);
        s[6].add_product(y * y, sd2);
    }

    pub fn value(&self) -> Moments {
        let v = |k: usize| self.sums[k].value();
        Moments {
            n: self.n,
            sd: v(0),
            sd2: v(1),
            sy: v(2),
            sdy: v(3),
            sdy2: v(4),
            sd2y: v(5),
            sd2y2: v(6),
        }
    }
}

/// Respondents who share a stratum, a PSU (or, when each is its own PSU,
/// only the stratum), a domain and the answers to the margin questions.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Index into the stratum names.
    pub stratum: u32,
    /// The cluster (0-based, nested in the stratum), or `None`: every
    /// respondent of the unit is its own PSU.
    pub cluster: Option<u32>,
    /// The domain (0-based group slot), or `None`: in no group.
    pub group: Option<u16>,
    /// Respondents, Σd and Σd² of the unit (d the design weight).
    pub respondents: u64,
    pub sum_d: f64,
    pub sum_d2: f64,
    /// Smallest and largest design weight, for the raking diagnostics.
    pub min_d: f64,
    pub max_d: f64,
}

/// A design given by its units.
#[derive(Debug, Clone)]
pub struct SufficientSpec {
    pub stratum_names: Vec<String>,
    /// Stratum of each cluster.
    pub cluster_stratum: Vec<u32>,
    pub units: Vec<Unit>,
    pub lonely_psu: LonelyPsu,
}

/// A validated design of units, as [`super::Design`] is one of respondents.
#[derive(Debug, Clone)]
pub struct SufficientDesign {
    mode: WeightMode,
    stratum_names: Vec<String>,
    cluster_stratum: Vec<u32>,
    /// n_h: clusters plus respondents who are their own PSU.
    psus_in_stratum: Vec<usize>,
    units: Vec<Unit>,
    lonely_psu: LonelyPsu,
    raking: Option<Box<Raking>>,
}

/// A raking of the units: the calibration (its cells are the units'
/// joint cells) and the sums of final weights the residual adjustment
/// subtracts from every PSU, whatever its domain.
#[derive(Debug, Clone)]
struct Raking {
    calibration: Calibration,
    /// Per cluster: (cell, Σw) of its respondents.
    cluster_cells: Vec<Vec<(usize, f64)>>,
    /// Per stratum: (cell, Σw, Σw²) of its respondents who are their own PSU.
    own_cells: Vec<Vec<(usize, f64, f64)>>,
}

impl SufficientDesign {
    /// Check the units as [`super::Design::new`] checks respondents: weights
    /// finite and above 0, clusters nested in strata, and no stratum with a
    /// single PSU under `--lonely-psu fail`.
    pub fn new(spec: SufficientSpec, mode: WeightMode) -> Result<SufficientDesign, StatsError> {
        if spec.units.iter().all(|u| u.respondents == 0) {
            return Err(StatsError::EmptySample);
        }
        let h_count = spec.stratum_names.len();
        let mut psus_in_stratum = vec![0usize; h_count];
        for (c, &h) in spec.cluster_stratum.iter().enumerate() {
            let h = h as usize;
            if h >= h_count {
                return Err(StatsError::InvalidArgument(format!("cluster {c} has no stratum")));
            }
            psus_in_stratum[h] += 1;
        }
        for (k, u) in spec.units.iter().enumerate() {
            if u.stratum as usize >= h_count {
                return Err(StatsError::UnknownStratum {
                    index: k,
                    stratum: u.stratum,
                    names: h_count,
                });
            }
            if !(u.min_d.is_finite() && u.min_d > 0.0 && u.max_d.is_finite()) {
                return Err(StatsError::InvalidArgument(format!(
                    "unit {k} has weights in [{}, {}]; every respondent needs a finite weight greater than 0",
                    u.min_d, u.max_d
                )));
            }
            match u.cluster {
                Some(c) if spec.cluster_stratum.get(c as usize) != Some(&u.stratum) => {
                    return Err(StatsError::InvalidArgument(format!(
                        "unit {k}: cluster {c} is not in stratum {}",
                        u.stratum
                    )))
                }
                Some(_) => {}
                None => psus_in_stratum[u.stratum as usize] += u.respondents as usize,
            }
        }
        if spec.lonely_psu == LonelyPsu::Fail {
            if let Some(h) = psus_in_stratum.iter().position(|&c| c == 1) {
                return Err(StatsError::SinglePsuStratum {
                    stratum: spec.stratum_names[h].clone(),
                });
            }
        }
        Ok(SufficientDesign {
            mode,
            stratum_names: spec.stratum_names,
            cluster_stratum: spec.cluster_stratum,
            psus_in_stratum,
            units: spec.units,
            lonely_psu: spec.lonely_psu,
            raking: None,
        })
    }

    pub fn mode(&self) -> WeightMode {
        self.mode
    }

    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// Strata with a single PSU, by name.
    pub fn lonely_strata(&self) -> Vec<&str> {
        lonely_strata(&self.psus_in_stratum, &self.stratum_names)
    }

    pub fn raking_diagnostics(&self) -> Option<&RakingDiagnostics> {
        self.raking.as_ref().map(|r| &r.calibration.diagnostics)
    }

    /// Rake the units' design weights to the margins (`codes` of each
    /// margin: one per unit), by IPF or, with `bounds`, bounded raking:
    /// [`super::Design::rake`] and [`super::Design::rake_bounded`] on the
    /// cell totals, which are the units' sums.
    pub fn rake(
        &self,
        margins: &[Margin],
        bounds: Option<WeightBounds>,
        options: &RakeOptions,
    ) -> Result<SufficientDesign, StatsError> {
        if let Some(b) = bounds {
            b.validate()?;
        }
        // A unit without respondents has no category to be present in.
        let base: Vec<f64> = self.units.iter().map(|u| u.sum_d).collect();
        let setup = calibration_setup(base, margins, options)?;
        let (f, sweeps) = setup.solve(bounds, options)?;
        let cells = setup.cells.cell.clone();
        let k_count = setup.cells.k;
        let mut cell_count = vec![0f64; k_count];
        let mut n = 0u64;
        let (mut sw, mut sw2) = (NeumaierSum::ZERO, NeumaierSum::ZERO);
        let mut summary = WeightSummary {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            cv: 0.0,
            factor_min: f64::INFINITY,
            factor_max: f64::NEG_INFINITY,
            at_lower: 0,
            at_upper: 0,
        };
        for (u, &k) in self.units.iter().zip(&cells) {
            if u.respondents == 0 {
                continue;
            }
            let g = f[k as usize];
            cell_count[k as usize] += u.respondents as f64;
            n += u.respondents;
            sw.add_product(g, u.sum_d);
            sw2.add_product(g * g, u.sum_d2);
            summary.min = summary.min.min(u.min_d * g);
            summary.max = summary.max.max(u.max_d * g);
            summary.factor_min = summary.factor_min.min(g);
            summary.factor_max = summary.factor_max.max(g);
            if let Some(b) = bounds {
                if g <= b.lower {
                    summary.at_lower += u.respondents as usize;
                }
                if g >= b.upper {
                    summary.at_upper += u.respondents as usize;
                }
            }
        }
        if n > 1 {
            let n = n as f64;
            let mean = sw.value() / n;
            let mut ss = sw2;
            ss.add_product(-2.0 * mean, sw.value());
            ss.add_product(mean * n, mean);
            summary.cv = (ss.value().max(0.0) / (n - 1.0)).sqrt() / mean;
        }
        let calibration = finish_calibration(setup, f, sweeps, options, bounds, &cell_count, &summary)?;
        let mut cluster_acc: Vec<Vec<(usize, NeumaierSum)>> = vec![Vec::new(); self.cluster_stratum.len()];
        let mut own_acc: Vec<Vec<(usize, NeumaierSum, NeumaierSum)>> = vec![Vec::new(); self.stratum_names.len()];
        for (u, &k) in self.units.iter().zip(&cells) {
            let k = k as usize;
            let g = calibration.cell_factor[k];
            match u.cluster {
                Some(c) => {
                    let list = &mut cluster_acc[c as usize];
                    let j = match list.iter().position(|e| e.0 == k) {
                        Some(j) => j,
                        None => {
                            list.push((k, NeumaierSum::ZERO));
                            list.len() - 1
                        }
                    };
                    list[j].1.add_product(g, u.sum_d);
                }
                None => {
                    let list = &mut own_acc[u.stratum as usize];
                    let j = match list.iter().position(|e| e.0 == k) {
                        Some(j) => j,
                        None => {
                            list.push((k, NeumaierSum::ZERO, NeumaierSum::ZERO));
                            list.len() - 1
                        }
                    };
                    list[j].1.add_product(g, u.sum_d);
                    list[j].2.add_product(g * g, u.sum_d2);
                }
            }
        }
        let mut out = self.clone();
        out.mode = WeightMode::Raked;
        out.raking = Some(Box::new(Raking {
            calibration,
            cluster_cells: cluster_acc
                .into_iter()
                .map(|l| l.into_iter().map(|(k, s)| (k, s.value())).collect())
                .collect(),
            own_cells: own_acc
                .into_iter()
                .map(|l| l.into_iter().map(|(k, a, b)| (k, a.value(), b.value())).collect())
                .collect(),
        }));
        Ok(out)
    }

    /// The raking factor of each unit (1 unraked).
    fn factor(&self, unit: usize) -> f64 {
        match &self.raking {
            Some(r) => r.calibration.cell_factor[r.calibration.cells.cell[unit] as usize],
            None => 1.0,
        }
    }

    /// Whole-sample (index 0) and per-group (1 + slot) statistics of one
    /// variable given as [`Moments`] per unit, as
    /// `estimate::domain_stats` computes them from respondents.
    pub fn domain_stats(
        &self,
        moments: &[Moments],
        statistic: Statistic,
        n_groups: usize,
    ) -> Result<Vec<DomainStats>, StatsError> {
        if moments.len() != self.units.len() {
            return Err(StatsError::LengthMismatch {
                what: "moments per unit".into(),
                expected: self.units.len(),
                got: moments.len(),
            });
        }
        Ok((0..=n_groups).map(|d| self.domain(moments, statistic, d)).collect())
    }

    fn domain(&self, moments: &[Moments], statistic: Statistic, d: usize) -> DomainStats {
        let in_domain = |u: &Unit| d == 0 || u.group.map(|g| g as usize + 1) == Some(d);
        let units = || {
            self.units
                .iter()
                .zip(moments)
                .enumerate()
                .filter(move |(_, (u, m))| m.n > 0 && in_domain(u))
        };
        let mut n = 0u64;
        let (mut sw, mut swy, mut sw2, mut swy2) = (
            NeumaierSum::ZERO,
            NeumaierSum::ZERO,
            NeumaierSum::ZERO,
            NeumaierSum::ZERO,
        );
        for (k, (_, m)) in units() {
            let g = self.factor(k);
            n += m.n;
            sw.add_product(g, m.sd);
            swy.add_product(g, m.sdy);
            sw2.add_product(g * g, m.sd2);
            swy2.add_product(g, m.sdy2);
        }
        let total = sw.value();
        let mut st = DomainStats {
            n,
            sum_w: total,
            sum_w2: sw2.value(),
            mean: f64::NAN,
            total: swy.value(),
            s2: f64::NAN,
            variance: 0.0,
            df: 0,
        };
        if n == 0 {
            return st;
        }
        let mean = swy.value() / total;
        st.mean = mean;
        st.s2 = if n < 2 {
            f64::NAN
        } else {
            let mut ss = swy2;
            ss.add_scaled(-mean, &swy);
            let nf = n as f64;
            (ss.value() / total * nf / (nf - 1.0)).max(0.0)
        };
        let h_count = self.stratum_names.len();
        let p_count = self.cluster_stratum.len();
        let raking = self.raking.as_deref();
        let cal = raking.map(|r| &r.calibration);
        let (nf, n_m, k_count) = cal.map_or((0, 0, 0), |c| (c.n_flat, c.margins.len(), c.cells.k));

        // Linearised values summed per cluster, per stratum for the
        // respondents who are their own PSU (with Σz² and, per cell, Σwz),
        // and per raking category (u and d·u).
        let mut t = vec![NeumaierSum::ZERO; p_count];
        let mut cluster_seen = vec![false; p_count];
        let mut own_n = 0u64;
        let mut s1 = vec![NeumaierSum::ZERO; h_count];
        let mut s2 = vec![NeumaierSum::ZERO; h_count];
        let mut r = vec![NeumaierSum::ZERO; if cal.is_some() { h_count * k_count } else { 0 }];
        let mut present = vec![false; h_count];
        let mut u_sums = vec![NeumaierSum::ZERO; nf];
        let mut du_sums = vec![NeumaierSum::ZERO; nf];
        for (k, (unit, m)) in units() {
            let g = self.factor(k);
            let h = unit.stratum as usize;
            present[h] = true;
            // Mean: z = g(Σdy − Ŷ Σd)/W, u = (Σy − n Ŷ)/W; total: z = g Σdy,
            // u = Σy. Σz² and Σwz of respondents who are their own PSU
            // follow from the second moments.
            let (z0, u, zz, wz) = match statistic {
                Statistic::Mean => {
                    let mut e = NeumaierSum::ZERO;
                    e.add(m.sdy);
                    e.add_product(-mean, m.sd);
                    let mut q = NeumaierSum::ZERO;
                    q.add(m.sy);
                    q.add_product(-(m.n as f64), mean);
                    let mut e2 = NeumaierSum::ZERO;
                    e2.add(m.sd2y2);
                    e2.add_product(-2.0 * mean, m.sd2y);
                    e2.add_product(mean * mean, m.sd2);
                    let mut ew = NeumaierSum::ZERO;
                    ew.add(m.sd2y);
                    ew.add_product(-mean, m.sd2);
                    (
                        e.value() / total,
                        q.value() / total,
                        e2.value() / (total * total),
                        ew.value() / total,
                    )
                }
                Statistic::Total => (m.sdy, m.sy, m.sd2y2, m.sd2y),
            };
            let z = g * z0;
            match unit.cluster {
                Some(c) => {
                    t[c as usize].add(z);
                    cluster_seen[c as usize] = true;
                }
                None => {
                    own_n += m.n;
                    s1[h].add(z);
                    s2[h].add(g * g * zz);
                    if let Some(c) = cal {
                        r[h * k_count + c.cells.cell[k] as usize].add(g * g * wz);
                    }
                }
            }
            if let Some(c) = cal {
                let cell = c.cells.cell[k] as usize;
                for &f in &c.cells.flat[cell * n_m..(cell + 1) * n_m] {
                    u_sums[f as usize].add(u);
                    du_sums[f as usize].add(z0);
                }
            }
        }
        let clusters = cluster_seen.iter().filter(|&&s| s).count() as u64;
        let strata = present.iter().filter(|&&p| p).count() as u64;
        st.df = clusters + own_n - strata;

        // Raking: every respondent's z loses w·Σ_m α_{m,c_m}, domain or not.
        if let (Some(raking), Some(c)) = (raking, cal) {
            let us: Vec<f64> = u_sums.iter().map(|s| s.value()).collect();
            let dus: Vec<f64> = du_sums.iter().map(|s| s.value()).collect();
            let alpha = c.alpha(&us, &dus);
            let a_cell: Vec<f64> = (0..k_count)
                .map(|k| {
                    c.cells.flat[k * n_m..(k + 1) * n_m]
                        .iter()
                        .map(|&f| alpha[f as usize])
                        .sum()
                })
                .collect();
            for (p, cells) in raking.cluster_cells.iter().enumerate() {
                for &(k, w) in cells {
                    t[p].add(-a_cell[k] * w);
                }
            }
            for (h, cells) in raking.own_cells.iter().enumerate() {
                for &(k, w, w2) in cells {
                    let a = a_cell[k];
                    s1[h].add(-a * w);
                    s2[h].add(-2.0 * a * r[h * k_count + k].value());
                    s2[h].add(a * a * w2);
                }
            }
        }

        // Per stratum: the sum of squares of the PSU totals about their
        // mean, clusters one by one and the own PSUs through Σz and Σz².
        let t: Vec<f64> = t.iter().map(|s| s.value()).collect();
        let mut total_h = s1.clone();
        for (p, &h) in self.cluster_stratum.iter().enumerate() {
            total_h[h as usize].add(t[p]);
        }
        let own_in_stratum: Vec<f64> = {
            let mut c = self.psus_in_stratum.iter().map(|&n| n as f64).collect::<Vec<f64>>();
            for &h in &self.cluster_stratum {
                c[h as usize] -= 1.0;
            }
            c
        };
        let means: Vec<f64> = (0..h_count)
            .map(|h| match self.psus_in_stratum[h] {
                0 => 0.0,
                nh => total_h[h].value() / nh as f64,
            })
            .collect();
        let mut ss = vec![NeumaierSum::ZERO; h_count];
        for (p, &h) in self.cluster_stratum.iter().enumerate() {
            let e = t[p] - means[h as usize];
            ss[h as usize].add(e * e);
        }
        for h in 0..h_count {
            if own_in_stratum[h] > 0.0 {
                let m = means[h];
                ss[h].merge(&s2[h]);
                ss[h].add_product(-2.0 * m, s1[h].value());
                ss[h].add_product(own_in_stratum[h] * m, m);
            }
        }
        st.variance = combine_strata(
            &self.psus_in_stratum,
            self.lonely_psu,
            raking.is_some(),
            |h| ss[h].value().max(0.0),
            |h| {
                if own_in_stratum[h] > 0.0 {
                    s2[h].value()
                } else {
                    let v = total_h[h].value();
                    v * v
                }
            },
            &present,
        );
        st
    }

    /// The estimated population of the whole sample and of each group
    /// (`svytotal(~one)`), as [`super::population_totals`].
    pub fn population_totals(&self, n_groups: usize, options: &EstimateOptions) -> Result<Vec<Estimate>, StatsError> {
        let ones: Vec<Moments> = self
            .units
            .iter()
            .map(|u| Moments::constant(u.respondents, u.sum_d, u.sum_d2, 1.0))
            .collect();
        let mut out = self.estimate(&[(&ones, Kind::Total)], n_groups, options)?;
        Ok(without_deff(out.pop().unwrap_or_default()))
    }

    /// Every figure of some variables, each as its kind says:
    /// `[variable][domain]`, domain 0 the whole sample and 1 + k group k.
    pub fn estimate(
        &self,
        variables: &[(&[Moments], Kind)],
        n_groups: usize,
        options: &EstimateOptions,
    ) -> Result<Vec<Vec<Estimate>>, StatsError> {
        variables
            .iter()
            .map(|(moments, kind)| {
                Ok(self
                    .domain_stats(moments, kind.statistic(), n_groups)?
                    .iter()
                    .map(|st| finish_estimate(st, *kind, options))
                    .collect())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::estimate::{estimate_columns, population_totals, Column, Grouping};
    use crate::stats::{Design, DesignSpec};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    /// A small survey: 3 strata, clusters in two of them and respondents
    /// who are their own PSU in the third, 3 groups (and some in none), two
    /// margins, a score with missing values.
    struct Sample {
        weights: Vec<f64>,
        stratum: Vec<u32>,
        /// Cluster, or `None` (own PSU).
        cluster: Vec<Option<u32>>,
        group: Vec<Option<u32>>,
        margins: [Vec<u32>; 2],
        y: Vec<f64>,
    }

    fn sample(n: usize, clustered: bool, seed: u64) -> Sample {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut s = Sample {
            weights: Vec::new(),
            stratum: Vec::new(),
            cluster: Vec::new(),
            group: Vec::new(),
            margins: [Vec::new(), Vec::new()],
            y: Vec::new(),
        };
        for _ in 0..n {
            let h = rng.random_range(0..3u32);
            s.weights.push(rng.random_range(0.5..3.0));
            s.stratum.push(h);
            s.cluster
                .push((clustered && h < 2).then(|| h * 4 + rng.random_range(0..4u32)));
            s.group.push(if rng.random_bool(0.1) {
                None
            } else {
                Some(rng.random_range(0..3))
            });
            s.margins[0].push(rng.random_range(0..3));
            s.margins[1].push(rng.random_range(0..2));
            s.y.push(if rng.random_bool(0.1) {
                f64::NAN
            } else {
                f64::from(rng.random_range(0..5u32)) * 25.0
            });
        }
        s
    }

    fn margins(s: &Sample, codes: [Vec<u32>; 2]) -> Vec<Margin> {
        let total: f64 = s.weights.iter().sum::<f64>() * 1.1;
        vec![
            Margin {
                name: "a".into(),
                categories: vec!["a0".into(), "a1".into(), "a2".into()],
                codes: codes[0].clone(),
                totals: vec![Some(0.3 * total), Some(0.3 * total), Some(0.4 * total)],
            },
            Margin {
                name: "b".into(),
                categories: vec!["b0".into(), "b1".into()],
                codes: codes[1].clone(),
                totals: vec![Some(0.45 * total), Some(0.55 * total)],
            },
        ]
    }

    /// Stratum, cluster, group and the two margins' categories.
    type UnitKey = (u32, Option<u32>, Option<u32>, u32, u32);

    /// The sample as units: per (stratum, cluster or own, group, margins).
    fn units(s: &Sample) -> (SufficientSpec, Vec<usize>, [Vec<u32>; 2]) {
        let mut index: HashMap<UnitKey, usize> = HashMap::new();
        let mut units: Vec<Unit> = Vec::new();
        let mut of = Vec::new();
        let mut codes = [Vec::new(), Vec::new()];
        let mut clusters: Vec<u32> = Vec::new();
        let mut cluster_index: HashMap<u32, u32> = HashMap::new();
        for i in 0..s.weights.len() {
            let c = s.cluster[i].map(|c| {
                let next = cluster_index.len() as u32;
                *cluster_index.entry(c).or_insert_with(|| {
                    clusters.push(s.stratum[i]);
                    next
                })
            });
            let key = (s.stratum[i], c, s.group[i], s.margins[0][i], s.margins[1][i]);
            let k = *index.entry(key).or_insert_with(|| {
                units.push(Unit {
                    stratum: key.0,
                    cluster: key.1,
                    group: key.2.map(|g| g as u16),
                    respondents: 0,
                    sum_d: 0.0,
                    sum_d2: 0.0,
                    min_d: f64::INFINITY,
                    max_d: 0.0,
                });
                codes[0].push(key.3);
                codes[1].push(key.4);
                units.len() - 1
            });
            let u = &mut units[k];
            let w = s.weights[i];
            u.respondents += 1;
            u.sum_d += w;
            u.sum_d2 += w * w;
            u.min_d = u.min_d.min(w);
            u.max_d = u.max_d.max(w);
            of.push(k);
        }
        let spec = SufficientSpec {
            stratum_names: vec!["h0".into(), "h1".into(), "h2".into()],
            cluster_stratum: clusters,
            units,
            lonely_psu: LonelyPsu::Adjust,
        };
        (spec, of, codes)
    }

    fn moments(s: &Sample, of: &[usize], units: usize, y: impl Fn(usize) -> f64) -> Vec<Moments> {
        let mut acc = vec![MomentSums::default(); units];
        for i in 0..s.weights.len() {
            let v = y(i);
            if v.is_nan() {
                continue;
            }
            let w = s.weights[i];
            acc[of[i]].add(&Moments::constant(1, w, w * w, v));
        }
        acc.iter().map(MomentSums::value).collect()
    }

    fn respondent_design(s: &Sample) -> Design {
        let weights: Vec<Option<f64>> = s.weights.iter().map(|&w| Some(w)).collect();
        // Respondents without a cluster are PSUs of their own, numbered
        // after the clusters.
        let psu: Vec<u32> = (0..s.weights.len())
            .map(|i| s.cluster[i].unwrap_or(1000 + i as u32))
            .collect();
        Design::new(DesignSpec {
            weights: &weights,
            respondent_ids: None,
            strata: Some(&s.stratum),
            stratum_names: &["h0".into(), "h1".into(), "h2".into()],
            psus: Some(&psu),
            lonely_psu: LonelyPsu::Adjust,
        })
        .unwrap()
    }

    fn close(a: f64, b: f64, what: &str) {
        let tol = 1e-12 * a.abs().max(b.abs()).max(1e-300);
        assert!(
            (a - b).abs() <= tol || (a.is_nan() && b.is_nan()),
            "{what}: {a} vs {b} (relative {:e})",
            (a - b).abs() / a.abs().max(b.abs())
        );
    }

    fn compare(expected: &[Vec<Estimate>], got: &[Vec<Estimate>]) {
        for (j, (e, g)) in expected.iter().zip(got).enumerate() {
            for (d, (e, g)) in e.iter().zip(g).enumerate() {
                let what = format!("variable {j} domain {d}");
                assert_eq!(e.n, g.n, "{what}: n");
                assert_eq!(e.df, g.df, "{what}: df");
                assert_eq!(e.suppressed, g.suppressed, "{what}");
                assert_eq!(e.ci_unavailable, g.ci_unavailable, "{what}");
                // A raked margin's total has SE 0 up to rounding (§4.2):
                // both paths give noise there (from differences of
                // second moments here), so such figures only have to be
                // noise in both.
                let noise = |x: &Estimate| match (x.se, x.estimate) {
                    (Some(se), Some(v)) => se <= 1e-6 * v.abs(),
                    _ => false,
                };
                if noise(e) || noise(g) {
                    assert!(noise(e) && noise(g), "{what}: se {:?} vs {:?}", e.se, g.se);
                    close(e.estimate.unwrap(), g.estimate.unwrap(), &what);
                    continue;
                }
                for (name, a, b) in [
                    ("estimate", e.estimate, g.estimate),
                    ("se", e.se, g.se),
                    ("ci_low", e.ci_low, g.ci_low),
                    ("ci_high", e.ci_high, g.ci_high),
                    ("n_eff", e.n_eff, g.n_eff),
                    ("deff", e.deff, g.deff),
                    ("cv", e.cv, g.cv),
                ] {
                    assert_eq!(a.is_some(), b.is_some(), "{what}: {name}");
                    if let (Some(a), Some(b)) = (a, b) {
                        close(a, b, &format!("{what}: {name}"));
                    }
                }
            }
        }
    }

    /// Every figure from units equals the figure from respondents, for
    /// clustered and own-PSU designs, unraked, raked and raked within
    /// bounds, means, shares and totals, whole sample and groups.
    #[test]
    fn units_give_the_respondents_figures() {
        let options = EstimateOptions {
            min_cell: 1,
            ..EstimateOptions::default()
        };
        for clustered in [true, false] {
            let s = sample(3000, clustered, 7 + clustered as u64);
            let (spec, of, codes) = units(&s);
            let n_units = spec.units.len();
            let top: Vec<Option<bool>> = s.y.iter().map(|&y| (!y.is_nan()).then_some(y >= 75.0)).collect();
            let score = moments(&s, &of, n_units, |i| s.y[i]);
            let top_m = moments(&s, &of, n_units, |i| {
                top[i].map_or(f64::NAN, |t| f64::from(u8::from(t)))
            });
            let order = [0u32, 1, 2];
            let grouping = Grouping {
                codes: &s.group,
                order: &order,
            };
            let columns = [
                (Column::Numeric(&s.y), Kind::Mean),
                (Column::Indicator(&top), Kind::Proportion),
                (Column::Indicator(&top), Kind::Total),
            ];
            let variables: [(&[Moments], Kind); 3] =
                [(&score, Kind::Mean), (&top_m, Kind::Proportion), (&top_m, Kind::Total)];
            let same = |design: &Design, units: &SufficientDesign| {
                let mut expected = estimate_columns(design, &columns, Some(&grouping), &options).unwrap();
                expected.push(population_totals(design, Some(&grouping), &options).unwrap());
                let mut got = units.estimate(&variables, 3, &options).unwrap();
                got.push(units.population_totals(3, &options).unwrap());
                compare(&expected, &got);
            };
            let design = respondent_design(&s);
            let sufficient = SufficientDesign::new(spec, WeightMode::Design).unwrap();
            assert_eq!(design.lonely_strata(), sufficient.lonely_strata());
            same(&design, &sufficient);
            for bounds in [None, Some(WeightBounds::new(0.7, 1.4).unwrap())] {
                let respondent_margins = margins(&s, s.margins.clone());
                let unit_margins = margins(&s, codes.clone());
                let rake = RakeOptions::default();
                let raked = match bounds {
                    None => design.rake(&respondent_margins, &rake).unwrap(),
                    Some(b) => design.rake_bounded(&respondent_margins, b, &rake).unwrap(),
                };
                let raked_units = sufficient.rake(&unit_margins, bounds, &rake).unwrap();
                same(&raked, &raked_units);
                let (a, b) = (
                    raked.raking_diagnostics().unwrap(),
                    raked_units.raking_diagnostics().unwrap(),
                );
                assert_eq!((a.sweeps, a.at_lower, a.at_upper), (b.sweeps, b.at_lower, b.at_upper));
                // The remaining margin error is rounding in both, and so is
                // which category has the most of it.
                assert!(a.max_margin_error < 1e-12 && b.max_margin_error < 1e-12);
                for (x, y, what) in [
                    (a.weight_min, b.weight_min, "weight_min"),
                    (a.weight_max, b.weight_max, "weight_max"),
                    (a.weight_cv, b.weight_cv, "weight_cv"),
                    (a.factor_min, b.factor_min, "factor_min"),
                    (a.factor_max, b.factor_max, "factor_max"),
                ] {
                    close(x, y, what);
                }
            }
        }
    }

    #[test]
    fn a_lonely_stratum_fails_as_the_respondent_design_does() {
        let unit = |stratum, cluster, respondents| Unit {
            stratum,
            cluster,
            group: None,
            respondents,
            sum_d: respondents as f64,
            sum_d2: respondents as f64,
            min_d: 1.0,
            max_d: 1.0,
        };
        let spec = SufficientSpec {
            stratum_names: vec!["a".into(), "b".into()],
            cluster_stratum: vec![0, 0],
            units: vec![unit(0, Some(0), 3), unit(0, Some(1), 2), unit(1, None, 1)],
            lonely_psu: LonelyPsu::Fail,
        };
        assert_eq!(
            SufficientDesign::new(spec, WeightMode::Design).unwrap_err(),
            StatsError::SinglePsuStratum { stratum: "b".into() }
        );
    }
}
