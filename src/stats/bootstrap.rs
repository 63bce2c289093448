//! Rao–Wu rescaling bootstrap, the second variance method (R's
//! `as.svrepdesign(type = "subbootstrap")`).
//!
//! Replicate b: in each stratum h with n_h PSUs draw n_h − 1 PSUs with
//! replacement (uniformly); PSU c drawn m_hc times gets the factor
//! `r_hc = n_h/(n_h−1) · m_hc`, so the replicate design weight is
//! `d_i · r_hc(i)`. A stratum with one PSU keeps factor 1 (it adds nothing;
//! R's weights are NaN there and it errors). Raked designs are calibrated
//! again in every replicate the way the design was: IPF to the same margins
//! and tolerance, or bounded raking with the same bounds (on the factor
//! over the replicate design weight). Bounds that bind in the design can be
//! out of reach in a replicate; there they are widened just enough, and the
//! run counts such replicates (`widened`, see `Calibration::solve_replicate`
//! in `rake.rs`). Per task (a column and a statistic) and domain S:
//!
//! * mean: `θ_b = Σ_S w_i^(b) y_i / Σ_S w_i^(b)`, over the replicates in
//!   which S has positive weight;
//! * total: `θ_b = Σ_S w_i^(b) y_i`, over every replicate (a replicate
//!   without members of S estimates 0);
//!
//! and `SE = √( Σ_b (θ_b − θ̄)² / (B_used − 1) )`, `θ̄ = (1/B_used) Σ_b θ_b`.
//!
//! **Replicates that cannot be calibrated.** A replicate can draw none of
//! the PSUs of a raking category, so no factor reaches its population
//! total (more rarely, raking cannot meet the margins together, or bounds
//! widened ten times still cannot). R errors there (NaN weights, SPEC §9),
//! and discarding such replicates, as R's `svrVar` does once the error is
//! bypassed, biases the SE low. Here the replicate is drawn again from a
//! further random stream, and the run reports how many draws were redrawn
//! (`redrawn`) and for which categories (`redrawn_for`). The bootstrap is
//! then conditional on every replicate keeping every category, which is
//! harmless when this is rare: more than a tenth of B redraws, or a
//! replicate failing 20 draws in a row, is an error naming the category.
//!
//! **Determinism.** Draw a of replicate b uses `StdRng::seed_from_u64` on a
//! SplitMix64 mix of (seed, b, a), so results do not depend on the number
//! of threads and the same seed reproduces them exactly within a build.
//!
//! **Cost.** Each estimate only depends on the data through Σ d and Σ d·y
//! per (PSU, raking cell) pair and domain, so these are aggregated once and
//! a replicate costs O(pairs × tasks + calibration on the cells).

use rand::{Rng, SeedableRng};

use super::design::Design;
use super::error::StatsError;
use super::estimate::{group_slots, run_parallel, Column, Grouping, Kind, Level, Statistic, Variable, NO_GROUP};
use super::rake::{Calibration, WeightBounds};
use super::summation::NeumaierSum;

/// Bootstrap options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapOptions {
    /// Number of replicates B (≥ 2).
    pub replicates: usize,
    /// RNG seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Checked before each replicate: the run stops with
    /// [`StatsError::Cancelled`] once it is cancelled.
    pub cancel: super::cancel::Cancel,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            replicates: 1000,
            seed: 1,
            threads: 2,
            cancel: super::cancel::Cancel::default(),
        }
    }
}

/// One figure to bootstrap: a column and whether its mean or its total.
#[derive(Debug, Clone, Copy)]
pub struct BootstrapTask<'a> {
    pub column: Column<'a>,
    pub statistic: Statistic,
}

/// The name of the method, for reports.
pub const BOOTSTRAP_METHOD: &str = "rao-wu rescaling";

/// Most redraws allowed, as a share of the replicates.
const MAX_REDRAW_SHARE: f64 = 0.10;
/// Most draws of one replicate.
const MAX_ATTEMPTS: usize = 20;

/// What a bootstrap run did, for reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BootstrapSummary {
    pub replicates: usize,
    pub seed: u64,
    pub method: &'static str,
    /// Replicate draws that could not be calibrated and were drawn again.
    pub redrawn: usize,
    /// The raking categories (`margin=category`) behind those redraws, in
    /// order of first occurrence.
    pub redrawn_for: Vec<String>,
    /// Replicates of a bounded raking whose bounds were widened because
    /// the design's could not meet the margins there
    /// ([`Design::rake_bounded`]).
    pub widened: usize,
    /// The widest bounds such a replicate used.
    pub widest_bounds: Option<[f64; 2]>,
}

/// Bootstrap standard errors of every task in every domain.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BootstrapRun {
    /// What the run did: B, seed, method, redraws, widened bounds.
    #[serde(flatten)]
    pub summary: BootstrapSummary,
    /// Full-sample estimate, `[task][domain]` (domain 0 is the whole
    /// sample, then the groups in `grouping.order`); None for an empty
    /// domain.
    pub estimate: Vec<Vec<Option<f64>>>,
    /// Bootstrap SE, `[task][domain]`; None with fewer than 2 usable
    /// replicates.
    pub se: Vec<Vec<Option<f64>>>,
    /// Replicates the SE is over, `[task][domain]`.
    pub replicates_used: Vec<Vec<usize>>,
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

/// Seed of draw `attempt` of replicate `b`; the first draw's stream is the
/// one replicates had before redraws existed.
fn draw_seed(seed: u64, b: usize, attempt: usize) -> u64 {
    let first = splitmix64(seed ^ splitmix64(b as u64 + 1));
    if attempt == 0 {
        first
    } else {
        splitmix64(first ^ splitmix64((attempt as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)))
    }
}

/// Sparse aggregates of one column in one domain: (pair, Σd, Σd·y).
struct Agg {
    pairs: Vec<u32>,
    a: Vec<f64>,
    y: Vec<f64>,
}

/// Why a replicate draw could not be calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// No respondent of the category in the replicate.
    Lost,
    /// The weight bounds cannot meet the category.
    Bounds,
    /// Raking cannot meet the margins (or does not converge).
    Unmet,
}

impl Cause {
    fn reason(self) -> &'static str {
        match self {
            Cause::Lost => "no PSU with a respondent in it was drawn",
            Cause::Bounds => "the weight bounds cannot meet its population total in the replicate",
            Cause::Unmet => "raking cannot meet its population total in the replicate",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Cause::Bounds => " or widen the weight bounds",
            Cause::Lost | Cause::Unmet => "",
        }
    }
}

/// A replicate's estimates, and the draws that failed before it.
struct Replicate {
    values: Vec<f64>,
    failed_draws: usize,
    /// The categories behind the failed draws (a draw can lose several).
    failures: Vec<(String, Cause)>,
    /// Bounds used when the design's could not be met.
    widened: Option<WeightBounds>,
}

/// Why calibration of one draw failed, or a hard error.
fn failure_of(cal: &Calibration, error: StatsError) -> Result<(String, Cause), StatsError> {
    match error {
        StatsError::BoundsInfeasible { margin, category, .. } => Ok((format!("{margin}={category}"), Cause::Bounds)),
        StatsError::RakingMissesMargin { margin, category, .. } => Ok((format!("{margin}={category}"), Cause::Unmet)),
        StatsError::CategoryNotInSample { margin, category } => Ok((format!("{margin}={category}"), Cause::Lost)),
        // IPF names no category: the margins together.
        StatsError::RakingDidNotConverge { .. } => {
            let names: Vec<&str> = cal.margins.iter().map(|m| m.name.as_str()).collect();
            Ok((names.join("+"), Cause::Unmet))
        }
        other => Err(other),
    }
}

/// Rao–Wu bootstrap standard errors of each task (a column's mean or total)
/// over the whole sample and each group of `grouping`.
pub fn bootstrap(
    design: &Design,
    tasks: &[BootstrapTask<'_>],
    grouping: Option<&Grouping<'_>>,
    options: &BootstrapOptions,
) -> Result<BootstrapRun, StatsError> {
    if options.replicates < 2 {
        return Err(StatsError::InvalidArgument(
            "the bootstrap needs at least 2 replicates".into(),
        ));
    }
    let n = design.len();
    for (j, t) in tasks.iter().enumerate() {
        t.column.check(design, &format!("bootstrap task {j}"))?;
    }
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

    let (slots, n_groups): (Vec<u16>, usize) = match grouping {
        Some(g) => (group_slots(n, g)?, g.order.len()),
        None => (Vec::new(), 0),
    };
    let nd = 1 + n_groups;
    // aggs[j * nd + d]
    let aggs: Vec<Agg> = run_parallel(tasks.len(), options.threads, |j| {
        let mut a = vec![NeumaierSum::ZERO; nd * n_pairs];
        let mut y = vec![NeumaierSum::ZERO; nd * n_pairs];
        let mut touched = vec![false; nd * n_pairs];
        for i in 0..n {
            let v = tasks[j].column.value(i);
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
    let statistic_of = |q: usize| tasks[q / nd].statistic;

    // Per-stratum PSU lists.
    let h_count = design.n_strata();
    let mut stratum_psus: Vec<Vec<u32>> = vec![Vec::new(); h_count];
    for (p, &h) in psu_stratum.iter().enumerate() {
        stratum_psus[h as usize].push(p as u32);
    }

    // θ for every (task, domain) given the final factor of every pair; NaN
    // where a mean's domain has no weight.
    let estimate_with = |g: &[f64]| -> Vec<f64> {
        aggs.iter()
            .enumerate()
            .map(|(q, ag)| {
                let mut num = NeumaierSum::ZERO;
                let mut den = NeumaierSum::ZERO;
                for (k, &p) in ag.pairs.iter().enumerate() {
                    let f = g[p as usize];
                    num.add(f * ag.y[k]);
                    den.add(f * ag.a[k]);
                }
                match statistic_of(q) {
                    Statistic::Total => num.value(),
                    Statistic::Mean if den.value() > 0.0 => num.value() / den.value(),
                    Statistic::Mean => f64::NAN,
                }
            })
            .collect()
    };
    let full = {
        let g: Vec<f64> = (0..n_pairs)
            .map(|p| cal.map_or(1.0, |c| c.cell_factor[pair_cell[p] as usize]))
            .collect();
        estimate_with(&g)
    };

    let replicates: Vec<Result<Replicate, StatsError>> = run_parallel(options.replicates, options.threads, |b| {
        options.cancel.check()?;
        let mut failures = Vec::new();
        let mut widened = None;
        for attempt in 0..MAX_ATTEMPTS {
            let mut rng = rand::rngs::StdRng::seed_from_u64(draw_seed(options.seed, b, attempt));
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
            let f = match cal {
                None => vec![1.0; k_count],
                Some(c) => {
                    let mut cw = vec![NeumaierSum::ZERO; k_count];
                    for p in 0..n_pairs {
                        cw[pair_cell[p] as usize].add(r_pair[p] * pair_w0[p]);
                    }
                    let cw: Vec<f64> = cw.iter().map(|s| s.value()).collect();
                    let lost = c.empty_categories(&cw);
                    if !lost.is_empty() {
                        failures.extend(lost.into_iter().map(|a| (c.category_label(a), Cause::Lost)));
                        continue;
                    }
                    match c.solve_replicate(&cw) {
                        Ok((f, wide)) => {
                            widened = wide;
                            f
                        }
                        Err(e) => {
                            failures.push(failure_of(c, e)?);
                            continue;
                        }
                    }
                }
            };
            let g: Vec<f64> = (0..n_pairs).map(|p| r_pair[p] * f[pair_cell[p] as usize]).collect();
            return Ok(Replicate {
                values: estimate_with(&g),
                failed_draws: attempt,
                failures,
                widened,
            });
        }
        let (category, cause) = failures.last().cloned().expect("failed draws");
        Err(StatsError::BootstrapReplicateFails {
            replicate: b + 1,
            attempts: MAX_ATTEMPTS,
            category,
            reason: cause.reason().into(),
            hint: cause.hint().into(),
        })
    });
    let mut reps = Vec::with_capacity(replicates.len());
    for r in replicates {
        reps.push(r?);
    }

    let redrawn: usize = reps.iter().map(|r| r.failed_draws).sum();
    let mut redrawn_for: Vec<String> = Vec::new();
    let mut counts: Vec<(usize, Cause)> = Vec::new();
    for (label, cause) in reps.iter().flat_map(|r| &r.failures) {
        match redrawn_for.iter().position(|x| x == label) {
            Some(k) => counts[k].0 += 1,
            None => {
                redrawn_for.push(label.clone());
                counts.push((1, *cause));
            }
        }
    }
    let limit = (MAX_REDRAW_SHARE * options.replicates as f64).floor() as usize;
    if redrawn > limit {
        let k = (0..counts.len())
            .max_by_key(|&k| (counts[k].0, usize::MAX - k))
            .expect("redraws");
        return Err(StatsError::BootstrapTooManyRedraws {
            category: redrawn_for[k].clone(),
            reason: counts[k].1.reason().into(),
            hint: counts[k].1.hint().into(),
            redrawn,
            replicates: options.replicates,
            limit,
        });
    }

    let mut estimate = vec![vec![None; nd]; tasks.len()];
    let mut se = vec![vec![None; nd]; tasks.len()];
    let mut replicates_used = vec![vec![0; nd]; tasks.len()];
    for j in 0..tasks.len() {
        for d in 0..nd {
            let q = j * nd + d;
            if aggs[q].pairs.is_empty() {
                continue;
            }
            let vals: Vec<f64> = reps.iter().map(|r| r.values[q]).filter(|x| !x.is_nan()).collect();
            let used = vals.len();
            replicates_used[j][d] = used;
            estimate[j][d] = Some(full[q]).filter(|x| !x.is_nan());
            if used >= 2 {
                let mut s = NeumaierSum::ZERO;
                for &x in &vals {
                    s.add(x);
                }
                let m = s.value() / used as f64;
                let mut ss = NeumaierSum::ZERO;
                for &x in &vals {
                    ss.add((x - m) * (x - m));
                }
                se[j][d] = Some((ss.value() / (used - 1) as f64).sqrt());
            }
        }
    }
    Ok(BootstrapRun {
        summary: BootstrapSummary {
            replicates: options.replicates,
            seed: options.seed,
            method: BOOTSTRAP_METHOD,
            redrawn,
            redrawn_for,
            widened: reps.iter().filter(|r| r.widened.is_some()).count(),
            widest_bounds: reps.iter().filter_map(|r| r.widened).fold(None, |acc, b| {
                let [l, u] = acc.unwrap_or([b.lower, b.upper]);
                Some([l.min(b.lower), u.max(b.upper)])
            }),
        },
        estimate,
        se,
        replicates_used,
    })
}

/// [`bootstrap`] of every variable's score mean and top-two-box share, for
/// the whole sample and each group, as rows in the order of
/// [`estimate_all`](super::estimate::estimate_all) (score then top box).
pub fn bootstrap_all(
    design: &Design,
    variables: &[Variable<'_>],
    grouping: Option<&Grouping<'_>>,
    options: &BootstrapOptions,
) -> Result<Vec<BootstrapRow>, StatsError> {
    let mut tasks = Vec::new();
    let mut meta: Vec<(usize, Kind)> = Vec::new();
    for (k, v) in variables.iter().enumerate() {
        tasks.push(BootstrapTask {
            column: Column::Numeric(v.score),
            statistic: Statistic::Mean,
        });
        meta.push((k, Kind::Mean));
        if let Some(t) = v.top_box {
            tasks.push(BootstrapTask {
                column: Column::Indicator(t),
                statistic: Statistic::Mean,
            });
            meta.push((k, Kind::Proportion));
        }
    }
    let run = bootstrap(design, &tasks, grouping, options)?;
    let nd = 1 + grouping.map_or(0, |g| g.order.len());
    let mut out = Vec::with_capacity(tasks.len() * nd);
    for d in 0..nd {
        for (j, &(k, kind)) in meta.iter().enumerate() {
            out.push(BootstrapRow {
                level: variables[k].level,
                id: variables[k].id.clone(),
                group: if d == 0 { None } else { grouping.map(|g| g.order[d - 1]) },
                kind,
                estimate: run.estimate[j][d],
                se: run.se[j][d],
                replicates_used: run.replicates_used[j][d],
            });
        }
    }
    Ok(out)
}
