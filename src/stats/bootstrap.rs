//! Rao–Wu rescaling bootstrap, the second variance method.
//!
//! Replicate b: in each stratum h with n_h PSUs draw n_h − 1 PSUs with
//! replacement (uniformly); PSU c drawn m_hc times gets the factor
//! `r_hc = n_h/(n_h−1) · m_hc`, so the replicate design weight is
//! `w0_i · r_hc(i)`. For raked designs each replicate is raked again to the
//! same margins (same IPF and tolerance). The replicate estimate
//! `θ_b = Σ_S w_i^(b) y_i / Σ_S w_i^(b)` uses the same domain S, and
//!
//! `SE_boot = √( Σ_b (θ_b − θ̄)² / (B − 1) )`, `θ̄ = (1/B) Σ_b θ_b`,
//!
//! over the replicates in which the domain has positive weight
//! (`replicates_used`). Replicate b draws from `StdRng::seed_from_u64`
//! seeded with a SplitMix64 mix of (seed, b), so results do not depend on
//! the number of threads and the same seed reproduces them exactly within a
//! build.
//!
//! Each estimate only depends on the data through Σ w0 and Σ w0·y per
//! (PSU, raking cell) pair and domain, so these are aggregated once and a
//! replicate costs O(pairs × estimates + IPF on the cells).

use rand::{Rng, SeedableRng};

use super::design::Design;
use super::error::StatsError;
use super::estimate::{group_slots, run_parallel, Column, Grouping, Kind, Level, Variable, NO_GROUP};
use super::rake::ipf_cells;
use super::summation::NeumaierSum;

/// Bootstrap options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootstrapOptions {
    /// Number of replicates B (≥ 2).
    pub replicates: usize,
    /// RNG seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            replicates: 1000,
            seed: 1,
            threads: 2,
        }
    }
}

/// Bootstrap result for one variable (score or top-two box) in one domain.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BootstrapRow {
    /// Level.
    pub level: Level,
    /// Variable id.
    pub id: String,
    /// Group code (None: whole sample).
    pub group: Option<u32>,
    /// Mean (score) or proportion (top-two box).
    pub kind: Kind,
    /// Full-sample estimate (None when the domain is empty).
    pub estimate: Option<f64>,
    /// Bootstrap standard error (None with fewer than 2 usable replicates).
    pub se: Option<f64>,
    /// Replicates in which the domain had positive weight.
    pub replicates_used: usize,
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Sparse aggregates of one column in one domain: (pair, Σw0, Σw0·y).
struct Agg {
    pairs: Vec<u32>,
    a: Vec<f64>,
    y: Vec<f64>,
}

/// Rao–Wu bootstrap standard errors for every variable (score and top-two
/// box) of the whole sample and of each group, in the order of
/// [`estimate_all`](super::estimate::estimate_all) (score then top box).
pub fn bootstrap_all(
    design: &Design,
    variables: &[Variable<'_>],
    grouping: Option<&Grouping<'_>>,
    options: &BootstrapOptions,
) -> Result<Vec<BootstrapRow>, StatsError> {
    if options.replicates < 2 {
        return Err(StatsError::InvalidArgument(
            "the bootstrap needs at least 2 replicates".into(),
        ));
    }
    let n = design.len();
    let w0 = design.design_weights();
    let cal = design.calibration.as_deref();
    // PSUs and their strata (unclustered: each respondent).
    let (psu_of, psu_stratum): (Vec<u32>, Vec<u32>) = match &design.psu {
        Some(p) => (p.clone(), design.psu_stratum.clone()),
        None => ((0..n as u32).collect(), design.stratum.clone()),
    };
    let p_count = psu_stratum.len();
    let k_count = cal.map_or(1, |c| c.cells.k);
    // Dense (PSU, cell) pairs.
    let mut pair_of = Vec::with_capacity(n);
    let mut pair_psu: Vec<u32> = Vec::new();
    let mut pair_cell: Vec<u32> = Vec::new();
    {
        let mut map: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        for i in 0..n {
            let cell = cal.map_or(0, |c| c.cells.cell[i]);
            let key = psu_of[i] as u64 * k_count as u64 + cell as u64;
            let next = map.len() as u32;
            let p = *map.entry(key).or_insert(next);
            if p == next {
                pair_psu.push(psu_of[i]);
                pair_cell.push(cell);
            }
            pair_of.push(p);
        }
    }
    let n_pairs = pair_psu.len();
    let mut pair_w0 = vec![NeumaierSum::ZERO; n_pairs];
    for i in 0..n {
        pair_w0[pair_of[i] as usize].add(w0[i]);
    }
    let pair_w0: Vec<f64> = pair_w0.iter().map(|s| s.value()).collect();

    // Columns and domains.
    let mut tasks: Vec<(usize, Column<'_>, Kind)> = Vec::new();
    for (k, v) in variables.iter().enumerate() {
        if v.score.len() != n {
            return Err(StatsError::LengthMismatch {
                what: format!("values of '{}'", v.id),
                expected: n,
                got: v.score.len(),
            });
        }
        tasks.push((k, Column::Numeric(v.score), Kind::Mean));
        if let Some(t) = v.top_box {
            if t.len() != n {
                return Err(StatsError::LengthMismatch {
                    what: format!("top-two box of '{}'", v.id),
                    expected: n,
                    got: t.len(),
                });
            }
            tasks.push((k, Column::Indicator(t), Kind::Proportion));
        }
    }
    let (slots, n_groups, order): (Vec<u16>, usize, &[u32]) = match grouping {
        Some(g) => (group_slots(n, g)?, g.order.len(), g.order),
        None => (Vec::new(), 0, &[]),
    };
    let nd = 1 + n_groups;
    // aggs[j * nd + d]
    let aggs: Vec<Agg> = run_parallel(tasks.len(), options.threads, |j| {
        let mut a = vec![NeumaierSum::ZERO; nd * n_pairs];
        let mut y = vec![NeumaierSum::ZERO; nd * n_pairs];
        let mut touched = vec![false; nd * n_pairs];
        for i in 0..n {
            let v = match tasks[j].1 {
                Column::Numeric(c) => c[i],
                Column::Indicator(c) => match c[i] {
                    Some(true) => 1.0,
                    Some(false) => 0.0,
                    None => f64::NAN,
                },
            };
            if v.is_nan() {
                continue;
            }
            let p = pair_of[i] as usize;
            let mut put = |d: usize| {
                let q = d * n_pairs + p;
                a[q].add(w0[i]);
                y[q].add(w0[i] * v);
                touched[q] = true;
            };
            put(0);
            if let Some(&s) = slots.get(i) {
                if s != NO_GROUP {
                    put(s as usize + 1);
                }
            }
        }
        (0..nd)
            .map(|d| {
                let mut g = Agg {
                    pairs: Vec::new(),
                    a: Vec::new(),
                    y: Vec::new(),
                };
                for p in 0..n_pairs {
                    let q = d * n_pairs + p;
                    if touched[q] {
                        g.pairs.push(p as u32);
                        g.a.push(a[q].value());
                        g.y.push(y[q].value());
                    }
                }
                g
            })
            .collect::<Vec<Agg>>()
    })
    .into_iter()
    .flatten()
    .collect();

    // Per-stratum PSU lists.
    let h_count = design.n_strata();
    let mut stratum_psus: Vec<Vec<u32>> = vec![Vec::new(); h_count];
    for (p, &h) in psu_stratum.iter().enumerate() {
        stratum_psus[h as usize].push(p as u32);
    }

    let n_m = cal.map_or(0, |c| c.margins.len());
    let estimate_with = |g: &[f64]| -> Vec<f64> {
        aggs.iter()
            .map(|ag| {
                let mut num = NeumaierSum::ZERO;
                let mut den = NeumaierSum::ZERO;
                for (k, &p) in ag.pairs.iter().enumerate() {
                    let f = g[p as usize];
                    num.add(f * ag.y[k]);
                    den.add(f * ag.a[k]);
                }
                if den.value() > 0.0 {
                    num.value() / den.value()
                } else {
                    f64::NAN
                }
            })
            .collect()
    };
    let rake_factors = |r_pair: &[f64]| -> Result<Vec<f64>, StatsError> {
        match cal {
            None => Ok(vec![1.0; 1]),
            Some(c) => {
                let mut cw = vec![NeumaierSum::ZERO; k_count];
                for p in 0..n_pairs {
                    cw[pair_cell[p] as usize].add(r_pair[p] * pair_w0[p]);
                }
                let cw: Vec<f64> = cw.iter().map(|s| s.value()).collect();
                let (f, _) = ipf_cells(&cw, &c.cells.flat, n_m, &c.offsets, &c.targets, &c.margins, &c.options)?;
                Ok(f)
            }
        }
    };
    // Full-sample estimates (replicate factor 1).
    let full = {
        let ones = vec![1.0; n_pairs];
        let f = rake_factors(&ones)?;
        let g: Vec<f64> = (0..n_pairs).map(|p| f[pair_cell[p] as usize]).collect();
        estimate_with(&g)
    };

    let replicates: Vec<Result<Vec<f64>, StatsError>> = run_parallel(options.replicates, options.threads, |b| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(splitmix64(options.seed ^ splitmix64(b as u64 + 1)));
        let mut r_psu = vec![0.0; p_count];
        for psus in &stratum_psus {
            let nh = psus.len();
            if nh < 2 {
                for &p in psus {
                    r_psu[p as usize] = 1.0;
                }
                continue;
            }
            let scale = nh as f64 / (nh - 1) as f64;
            for _ in 0..nh - 1 {
                let k = rng.random_range(0..nh);
                r_psu[psus[k] as usize] += scale;
            }
        }
        let r_pair: Vec<f64> = (0..n_pairs).map(|p| r_psu[pair_psu[p] as usize]).collect();
        let f = rake_factors(&r_pair)?;
        let g: Vec<f64> = (0..n_pairs).map(|p| r_pair[p] * f[pair_cell[p] as usize]).collect();
        Ok(estimate_with(&g))
    });
    let mut reps = Vec::with_capacity(replicates.len());
    for r in replicates {
        reps.push(r?);
    }

    let mut out = Vec::with_capacity(aggs.len());
    for d in 0..nd {
        for (j, (k, _, kind)) in tasks.iter().enumerate() {
            let q = j * nd + d;
            let vals: Vec<f64> = reps.iter().map(|r| r[q]).filter(|x| !x.is_nan()).collect();
            let used = vals.len();
            let se = if used >= 2 {
                let mut s = NeumaierSum::ZERO;
                for &x in &vals {
                    s.add(x);
                }
                let m = s.value() / used as f64;
                let mut ss = NeumaierSum::ZERO;
                for &x in &vals {
                    ss.add((x - m) * (x - m));
                }
                Some((ss.value() / (used - 1) as f64).sqrt())
            } else {
                None
            };
            let est = full[q];
            out.push(BootstrapRow {
                level: variables[*k].level,
                id: variables[*k].id.clone(),
                group: if d == 0 { None } else { Some(order[d - 1]) },
                kind: *kind,
                estimate: if est.is_nan() { None } else { Some(est) },
                se,
                replicates_used: used,
            });
        }
    }
    Ok(out)
}
