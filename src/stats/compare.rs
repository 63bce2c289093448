//! Comparison of two independent waves (docs/statistics.md §6.4): difference
//! `Ŷ₂ − Ŷ₁`, `SE = √(SE₁² + SE₂²)`, t interval and two-sided p-value
//! `2·P(T_df > |d/SE|)` with `df = min(df₁, df₂)` (the conservative rule)
//! or `df₁ + df₂` (the degrees of freedom of the stacked two-wave design).

use super::dist::{t_critical, two_sided_p};
use super::error::StatsError;
use super::estimate::Estimate;

/// Result of comparing two waves.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// `Ŷ₂ − Ŷ₁` (later minus earlier).
    pub difference: f64,
    /// `√(SE₁² + SE₂²)`.
    pub se: f64,
    /// `min(df₁, df₂)` (may be infinite).
    pub df: f64,
    /// t statistic `difference / se` (None when se = 0 and difference = 0).
    pub t: Option<f64>,
    /// Lower CI bound (None when df = 0).
    pub ci_low: Option<f64>,
    /// Upper CI bound.
    pub ci_high: Option<f64>,
    /// Two-sided p-value (None when df = 0 or t undefined).
    pub p_value: Option<f64>,
}

/// Which degrees of freedom a comparison uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DfRule {
    /// `min(df₁, df₂)`: never more confident than the less precise wave.
    #[default]
    Min,
    /// `df₁ + df₂`: the two waves as one stacked design (strata of each
    /// wave kept apart), as R's `svycontrast` on such a design.
    Stacked,
}

/// Compare plain figures of two waves: (estimate, SE, df) of the earlier
/// and of the later wave.
pub fn compare_values(
    earlier: (f64, f64, f64),
    later: (f64, f64, f64),
    level: f64,
    rule: DfRule,
) -> Result<Comparison, StatsError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(StatsError::InvalidArgument(format!(
            "confidence level {level} must be between 0 and 1"
        )));
    }
    for (e, s, d) in [earlier, later] {
        if !(e.is_finite() && s >= 0.0 && s.is_finite()) || d.is_nan() || d < 0.0 {
            return Err(StatsError::NotComparable(format!(
                "estimate {e}, SE {s}, df {d} is not a valid figure"
            )));
        }
    }
    let difference = later.0 - earlier.0;
    let se = (earlier.1 * earlier.1 + later.1 * later.1).sqrt();
    let df = match rule {
        DfRule::Min => earlier.2.min(later.2),
        DfRule::Stacked => earlier.2 + later.2,
    };
    let t = if se > 0.0 {
        Some(difference / se)
    } else if difference != 0.0 {
        Some(difference.signum() * f64::INFINITY)
    } else {
        None
    };
    let crit = if df > 0.0 { t_critical(df, level) } else { None };
    let (ci_low, ci_high) = match crit {
        Some(c) => (Some(difference - c * se), Some(difference + c * se)),
        None => (None, None),
    };
    let p_value = match t {
        Some(t) if df > 0.0 => two_sided_p(df, t),
        _ => None,
    };
    Ok(Comparison {
        difference,
        se,
        df,
        t,
        ci_low,
        ci_high,
        p_value,
    })
}

/// Compare two published estimates (later minus earlier). Suppressed or
/// empty estimates cannot be compared.
pub fn compare(earlier: &Estimate, later: &Estimate, level: f64, rule: DfRule) -> Result<Comparison, StatsError> {
    let get = |e: &Estimate, which: &str| -> Result<(f64, f64, f64), StatsError> {
        match (e.estimate, e.se) {
            (Some(x), Some(s)) => Ok((x, s, e.df as f64)),
            _ => Err(StatsError::NotComparable(format!(
                "the {which} wave's estimate is {}",
                if e.suppressed { "suppressed" } else { "not available" }
            ))),
        }
    };
    compare_values(get(earlier, "earlier")?, get(later, "later")?, level, rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_formulas() {
        let c = compare_values((60.0, 1.2, 40.0), (63.0, 1.6, 25.0), 0.95, DfRule::Min).unwrap();
        assert_eq!(c.difference, 3.0);
        assert!((c.se - 2.0).abs() < 1e-15);
        assert_eq!(c.df, 25.0);
        let t = t_critical(25.0, 0.95).unwrap();
        assert!((c.ci_low.unwrap() - (3.0 - 2.0 * t)).abs() < 1e-12);
        assert!((c.ci_high.unwrap() - (3.0 + 2.0 * t)).abs() < 1e-12);
        assert_eq!(c.t, Some(1.5));
        // P(|T_25| > 1.5) = 0.14614…
        let p = c.p_value.unwrap();
        let back = two_sided_p(25.0, 1.5).unwrap();
        assert_eq!(p, back);
        assert!((p - 0.146_1).abs() < 1e-3, "{p}");
        // symmetric and consistent with the CI: p < 0.05 iff 0 outside CI
        let c2 = compare_values((60.0, 0.5, 100.0), (62.0, 0.5, f64::INFINITY), 0.95, DfRule::Min).unwrap();
        assert_eq!(c2.df, 100.0);
        assert!(c2.p_value.unwrap() < 0.05 && c2.ci_low.unwrap() > 0.0);
        let inf = compare_values((1.0, 0.1, f64::INFINITY), (1.5, 0.1, f64::INFINITY), 0.9, DfRule::Min).unwrap();
        assert!(inf.ci_low.is_some() && inf.p_value.is_some());
        // df 0: no interval, no p-value
        let z = compare_values((1.0, 0.1, 0.0), (2.0, 0.1, 5.0), 0.95, DfRule::Min).unwrap();
        assert!(z.ci_low.is_none() && z.p_value.is_none());
        assert!(compare_values((1.0, -0.1, 3.0), (2.0, 0.1, 5.0), 0.95, DfRule::Min).is_err());
    }

    #[test]
    fn suppressed_estimates_are_not_compared() {
        let e = Estimate {
            n: 5,
            n_eff: Some(5.0),
            estimate: None,
            se: None,
            df: 4,
            ci_low: None,
            ci_high: None,
            ci_unavailable: Some(super::super::estimate::CiUnavailable::Suppressed),
            suppressed: true,
            low_precision: false,
            deff: None,
            cv: None,
        };
        let mut ok = e.clone();
        ok.estimate = Some(50.0);
        ok.se = Some(2.0);
        ok.suppressed = false;
        let err = compare(&e, &ok, 0.95, DfRule::Min).unwrap_err();
        assert!(err.to_string().contains("suppressed"));
        assert!(compare(&ok, &ok, 0.95, DfRule::Min).unwrap().difference == 0.0);
        let stacked = compare_values((60.0, 1.2, 40.0), (63.0, 1.6, 25.0), 0.95, DfRule::Stacked).unwrap();
        assert_eq!(stacked.df, 65.0);
    }
}
