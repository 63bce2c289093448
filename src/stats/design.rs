//! Survey design: weights, strata and primary sampling units (docs/statistics.md §3).

use std::collections::HashMap;

use super::error::StatsError;
use super::rake::Calibration;
use super::summation::NeumaierSum;

/// How the weights were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightMode {
    /// All weights 1, one stratum, each respondent its own PSU.
    None,
    /// Imported or invitation-based weights, strata, clusters.
    Design,
    /// Design weights calibrated to population margins (§5).
    Raked,
}

/// Caller-supplied design columns (one entry per respondent).
#[derive(Debug, Clone, Copy)]
pub struct DesignSpec<'a> {
    /// Design weights; `None`, zero, negative or NaN is an error.
    pub weights: &'a [Option<f64>],
    /// External respondent ids, used in error messages only.
    pub respondent_ids: Option<&'a [String]>,
    /// Stratum index per respondent (`None`: a single stratum).
    pub strata: Option<&'a [u32]>,
    /// Stratum names by index (may be empty: names become "stratum k").
    pub stratum_names: &'a [String],
    /// PSU index per respondent, globally unique (nested in strata);
    /// `None`: each respondent is its own PSU.
    pub psus: Option<&'a [u32]>,
    /// What to do with a stratum that has a single PSU.
    pub lonely_psu: LonelyPsu,
}

/// What a stratum with a single PSU contributes to a variance, as R's
/// `options(survey.lonely.psu = …)` (docs/statistics.md §4.1). Such a
/// stratum has no within-stratum variation to estimate from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LonelyPsu {
    /// An error that names the stratum.
    #[default]
    Fail,
    /// Nothing.
    Remove,
    /// Nothing: the PSU was sampled with certainty (for one-stage designs
    /// the same as `remove`).
    Certainty,
    /// Its PSU total centred at the sample's grand mean (0 for linearised
    /// values), so it adds `t²`.
    Adjust,
    /// The average contribution of the other strata: the variance is
    /// scaled by strata / strata with two or more PSUs.
    Average,
}

/// `Σ_h n_h/(n_h−1) · ss_h` over strata (see [`Design::combine_strata`]),
/// for any design given its PSUs per stratum: shared by the respondent
/// designs and the sufficient-statistics ones ([`super::sufficient`]).
/// `every_stratum`: a raked design, where R keeps every respondent in a
/// domain with weight 0.
pub(super) fn combine_strata(
    psus_in_stratum: &[usize],
    lonely_psu: LonelyPsu,
    every_stratum: bool,
    ss: impl Fn(usize) -> f64,
    lone_square: impl Fn(usize) -> f64,
    present: &[bool],
) -> f64 {
    let mut v = NeumaierSum::ZERO;
    let mut lonely = 0usize;
    let mut strata = 0usize;
    for (h, &nh) in psus_in_stratum.iter().enumerate() {
        if nh == 0 || !(every_stratum || present.get(h).copied().unwrap_or(false)) {
            continue;
        }
        strata += 1;
        if nh >= 2 {
            let nh = nh as f64;
            v.add(nh / (nh - 1.0) * ss(h));
        } else {
            lonely += 1;
            if lonely_psu == LonelyPsu::Adjust {
                v.add(lone_square(h));
            }
        }
    }
    let v = v.value();
    match lonely_psu {
        LonelyPsu::Average if lonely > 0 && strata == lonely => f64::NAN,
        LonelyPsu::Average if lonely > 0 => v * strata as f64 / (strata - lonely) as f64,
        _ => v,
    }
}

/// A validated design, ready for estimation. Build with [`Design::new`],
/// [`Design::unweighted`] or [`Design::rake`](Design::rake).
#[derive(Clone)]
pub struct Design {
    pub(super) mode: WeightMode,
    /// Final weights (after raking when raked).
    pub(super) weights: Vec<f64>,
    /// Stratum index per respondent (0..n_strata).
    pub(super) stratum: Vec<u32>,
    pub(super) stratum_names: Vec<String>,
    /// Dense PSU index per respondent; `None` = each respondent its own PSU.
    pub(super) psu: Option<Vec<u32>>,
    /// Stratum of each dense PSU (clustered designs).
    pub(super) psu_stratum: Vec<u32>,
    /// n_h: PSUs of each stratum in the whole sample.
    pub(super) psus_in_stratum: Vec<usize>,
    /// Raking information (raked designs).
    pub(super) calibration: Option<Box<Calibration>>,
    pub(super) lonely_psu: LonelyPsu,
}

impl std::fmt::Debug for Design {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Design")
            .field("mode", &self.mode)
            .field("respondents", &self.weights.len())
            .field("strata", &self.stratum_names)
            .field("psus", &self.psu_count())
            .field("raking_sweeps", &self.raking_sweeps())
            .finish_non_exhaustive()
    }
}

fn weight_error(index: usize, ids: Option<&[String]>, reason: String) -> StatsError {
    StatsError::InvalidWeight {
        index,
        id: ids.and_then(|v| v.get(index).cloned()),
        reason,
    }
}

/// Validate a weight column: every weight must be finite and > 0.
pub fn validate_weights(weights: &[Option<f64>], respondent_ids: Option<&[String]>) -> Result<Vec<f64>, StatsError> {
    let mut out = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        match *w {
            None => return Err(weight_error(i, respondent_ids, "missing".into())),
            Some(x) if x.is_nan() => return Err(weight_error(i, respondent_ids, "NaN".into())),
            Some(x) if x.is_infinite() => return Err(weight_error(i, respondent_ids, format!("{x}"))),
            Some(x) if x < 0.0 => return Err(weight_error(i, respondent_ids, format!("negative: {x}"))),
            Some(0.0) => return Err(weight_error(i, respondent_ids, "zero".into())),
            Some(x) => out.push(x),
        }
    }
    Ok(out)
}

impl Design {
    /// Weights `none`: all weights 1, one stratum, each respondent its own PSU.
    pub fn unweighted(n: usize) -> Result<Design, StatsError> {
        let w = vec![Some(1.0); n];
        let mut d = Design::new(DesignSpec {
            weights: &w,
            respondent_ids: None,
            strata: None,
            stratum_names: &["all".to_string()],
            psus: None,
            lonely_psu: LonelyPsu::Fail,
        })?;
        d.mode = WeightMode::None;
        Ok(d)
    }

    /// Weights `design`: validate weights, strata and PSUs. Errors: invalid
    /// weight (naming the respondent), a stratum with a single PSU (naming
    /// it), a PSU in two strata, mismatched lengths.
    pub fn new(spec: DesignSpec<'_>) -> Result<Design, StatsError> {
        let n = spec.weights.len();
        if n == 0 {
            return Err(StatsError::EmptySample);
        }
        let check_len = |what: &str, got: usize| {
            if got != n {
                Err(StatsError::LengthMismatch {
                    what: what.into(),
                    expected: n,
                    got,
                })
            } else {
                Ok(())
            }
        };
        if let Some(ids) = spec.respondent_ids {
            check_len("respondent ids", ids.len())?;
        }
        let weights = validate_weights(spec.weights, spec.respondent_ids)?;
        let (stratum, stratum_names) = match spec.strata {
            None => {
                let name = spec.stratum_names.first().cloned().unwrap_or_else(|| "all".into());
                (vec![0u32; n], vec![name])
            }
            Some(s) => {
                check_len("stratum indices", s.len())?;
                let mut names: Vec<String> = spec.stratum_names.to_vec();
                if names.is_empty() {
                    let max = s.iter().copied().max().unwrap_or(0) as usize;
                    if max > n {
                        return Err(StatsError::InvalidArgument(format!(
                            "stratum index {max} without stratum names; pass names or dense indices"
                        )));
                    }
                    names = (0..=max).map(|k| format!("stratum {k}")).collect();
                }
                for (i, &h) in s.iter().enumerate() {
                    if h as usize >= names.len() {
                        return Err(StatsError::UnknownStratum {
                            index: i,
                            stratum: h,
                            names: names.len(),
                        });
                    }
                }
                (s.to_vec(), names)
            }
        };
        let h_count = stratum_names.len();
        let mut psus_in_stratum = vec![0usize; h_count];
        let (psu, psu_stratum) = match spec.psus {
            None => {
                for &h in &stratum {
                    psus_in_stratum[h as usize] += 1;
                }
                (None, Vec::new())
            }
            Some(p) => {
                check_len("PSU indices", p.len())?;
                let mut map: HashMap<u32, u32> = HashMap::new();
                let mut dense = Vec::with_capacity(n);
                let mut psu_stratum: Vec<u32> = Vec::new();
                for (i, &id) in p.iter().enumerate() {
                    let h = stratum[i];
                    let next = map.len() as u32;
                    let k = *map.entry(id).or_insert(next);
                    if k == next {
                        psu_stratum.push(h);
                        psus_in_stratum[h as usize] += 1;
                    } else if psu_stratum[k as usize] != h {
                        return Err(StatsError::PsuNotNested {
                            psu: id,
                            first: stratum_names[psu_stratum[k as usize] as usize].clone(),
                            second: stratum_names[h as usize].clone(),
                        });
                    }
                    dense.push(k);
                }
                (Some(dense), psu_stratum)
            }
        };
        if spec.lonely_psu == LonelyPsu::Fail {
            for (h, &c) in psus_in_stratum.iter().enumerate() {
                if c == 1 {
                    return Err(StatsError::SinglePsuStratum {
                        stratum: stratum_names[h].clone(),
                    });
                }
            }
        }
        Ok(Design {
            mode: WeightMode::Design,
            weights,
            stratum,
            stratum_names,
            psu,
            psu_stratum,
            psus_in_stratum,
            calibration: None,
            lonely_psu: spec.lonely_psu,
        })
    }

    /// Number of respondents.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Whether the design has no respondents (never true for a built design).
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Weight mode.
    pub fn mode(&self) -> WeightMode {
        self.mode
    }

    /// Final weights (after raking for raked designs).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Design weights before raking (the weights themselves if not raked).
    pub fn design_weights(&self) -> &[f64] {
        match &self.calibration {
            Some(c) => &c.base_weights,
            None => &self.weights,
        }
    }

    /// Stratum names by index.
    pub fn stratum_names(&self) -> &[String] {
        &self.stratum_names
    }

    /// Number of PSUs in the whole sample (respondents when unclustered).
    pub fn psu_count(&self) -> usize {
        match &self.psu {
            Some(_) => self.psu_stratum.len(),
            None => self.weights.len(),
        }
    }

    /// Strata with a single PSU, by name.
    pub fn lonely_strata(&self) -> Vec<&str> {
        lonely_strata(&self.psus_in_stratum, &self.stratum_names)
    }

    /// `Σ_h n_h/(n_h−1) · ss_h` over strata, given each stratum's sum of
    /// squared deviations `ss_h` (about the stratum mean) and, for a
    /// stratum with one PSU, its squared total; strata with one PSU count
    /// as [`LonelyPsu`] says. `present` marks the strata with members of
    /// the domain: `average` scales by the domain's strata over its strata
    /// with two or more PSUs, as R does, and is not defined (NaN) when
    /// every stratum of the domain is lonely. R keeps every row of a raked
    /// design in a domain (with weight 0), so there every stratum counts.
    pub(super) fn combine_strata(
        &self,
        ss: impl Fn(usize) -> f64,
        lone_square: impl Fn(usize) -> f64,
        present: &[bool],
    ) -> f64 {
        combine_strata(
            &self.psus_in_stratum,
            self.lonely_psu,
            self.calibration.is_some(),
            ss,
            lone_square,
            present,
        )
    }

    /// Number of raking sweeps performed (raked designs).
    pub fn raking_sweeps(&self) -> Option<usize> {
        self.calibration.as_ref().map(|c| c.sweeps)
    }

    /// What the raking did (raked designs): sweeps, the largest remaining
    /// margin error, the range and CV of the weights and of the factors.
    pub fn raking_diagnostics(&self) -> Option<&super::rake::RakingDiagnostics> {
        self.calibration.as_ref().map(|c| &c.diagnostics)
    }

    /// Compensated Σ w of the final weights.
    pub fn weight_total(&self) -> f64 {
        let mut s = NeumaierSum::ZERO;
        for &w in &self.weights {
            s.add(w);
        }
        s.value()
    }

    /// Kish effective sample size of the whole sample.
    pub fn n_eff(&self) -> f64 {
        let mut s = NeumaierSum::ZERO;
        let mut s2 = NeumaierSum::ZERO;
        for &w in &self.weights {
            s.add(w);
            s2.add(w * w);
        }
        s.value() * s.value() / s2.value()
    }

    /// Number of strata (including strata without respondents).
    pub(super) fn n_strata(&self) -> usize {
        self.stratum_names.len()
    }
}

/// The names of the strata with a single PSU (whether a design is kept per
/// respondent or as sums per unit).
pub(super) fn lonely_strata<'a>(psus_in_stratum: &[usize], stratum_names: &'a [String]) -> Vec<&'a str> {
    psus_in_stratum
        .iter()
        .enumerate()
        .filter(|(_, &c)| c == 1)
        .map(|(h, _)| stratum_names[h].as_str())
        .collect()
}
