//! Student t quantiles and distribution function (statrs), with the normal
//! distribution for infinite or very large degrees of freedom: statrs 0.19
//! `StudentsT::inverse_cdf` does not return for an infinite df.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Above this many degrees of freedom the normal distribution is used
/// (the t quantile then differs from the normal one by less than 1e-9
/// relative).
pub const NORMAL_DF: f64 = 1e10;

/// Quantile of Student's t with `df` degrees of freedom (`df > 0`, may be
/// infinite) at probability `p` in (0, 1). Returns `None` for `df <= 0` or NaN.
pub fn t_quantile(df: f64, p: f64) -> Option<f64> {
    if df.is_nan() || df <= 0.0 || !(p > 0.0 && p < 1.0) {
        return None;
    }
    if df > NORMAL_DF {
        let n = Normal::standard();
        return Some(n.inverse_cdf(p));
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.inverse_cdf(p))
}

/// Distribution function of Student's t (normal for huge or infinite df).
pub fn t_cdf(df: f64, x: f64) -> Option<f64> {
    if df.is_nan() || df <= 0.0 || x.is_nan() {
        return None;
    }
    if df > NORMAL_DF {
        return Some(Normal::standard().cdf(x));
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.cdf(x))
}

/// Two-sided p-value of a t statistic.
pub fn two_sided_p(df: f64, t: f64) -> Option<f64> {
    if t.is_infinite() {
        return Some(0.0);
    }
    let c = t_cdf(df, -t.abs())?;
    Some((2.0 * c).min(1.0))
}

/// Critical value `t_{df,(1+level)/2}` for a two-sided interval at `level`.
pub fn t_critical(df: f64, level: f64) -> Option<f64> {
    t_quantile(df, (1.0 + level) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cornish–Fisher expansion of the t quantile (Abramowitz & Stegun
    /// 26.7.5); accurate to ~1e-13 relative for df >= 1000.
    fn cornish_fisher(z: f64, v: f64) -> f64 {
        let g1 = (z.powi(3) + z) / 4.0;
        let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
        let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
        let g4 = (79.0 * z.powi(9) + 776.0 * z.powi(7) + 1482.0 * z.powi(5)
            - 1920.0 * z.powi(3)
            - 945.0 * z)
            / 92160.0;
        z + g1 / v + g2 / v.powi(2) + g3 / v.powi(3) + g4 / v.powi(4)
    }

    #[test]
    fn quantiles_match_known_values() {
        // qt(0.975, c(1, 10)) in R
        for (df, q) in [(1.0, 12.706204736174698), (10.0, 2.2281388519649385)] {
            let got = t_quantile(df, 0.975).unwrap();
            assert!(((got - q) / q).abs() < 1e-9, "df {df}: {got} vs {q}");
        }
        let z = t_quantile(f64::INFINITY, 0.975).unwrap();
        assert!((z - 1.959963984540054).abs() < 1e-12);
        for df in [1000.0, 1196.0, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, NORMAL_DF] {
            let got = t_quantile(df, 0.975).unwrap();
            let cf = cornish_fisher(z, df);
            assert!(((got - cf) / cf).abs() < 1e-10, "df {df}: {got} vs {cf}");
        }
        assert!(t_quantile(0.0, 0.975).is_none());
        let a = t_quantile(NORMAL_DF * 2.0, 0.975).unwrap();
        assert!(((a - z) / z).abs() < 1e-9);
        assert!((two_sided_p(f64::INFINITY, 1.959963984540054).unwrap() - 0.05).abs() < 1e-12);
        assert!((two_sided_p(10.0, 2.2281388519649385).unwrap() - 0.05).abs() < 1e-10);
    }
}
