//! Student t quantiles and distribution function.
//!
//! statrs 0.19 is used where it is accurate: its `StudentsT::inverse_cdf`
//! does not return for an infinite df and loses accuracy fast above
//! df ≈ 10⁴ (−3.5e-6 relative at df = 10⁵, −7 % at 10⁷), and its `cdf` is
//! off by 4e-10 at df = 10⁷ and by 5 % at 10¹⁵. So:
//!
//! * quantile: statrs for df < 1000, the Cornish–Fisher expansion
//!   (Abramowitz & Stegun 26.7.5, four terms, error < 1e-14 relative for
//!   df ≥ 1000, exactly the normal quantile for df = ∞) above;
//! * cdf: statrs for df < 10⁵, `Φ(x) − φ(x)(x³+x)/(4 df)` above
//!   (error < 1e-11).

use statrs::distribution::{Continuous, ContinuousCDF, Normal, StudentsT};

/// From this df on the quantile uses the Cornish–Fisher expansion.
pub const CORNISH_FISHER_DF: f64 = 1000.0;
/// From this df on the cdf uses the first-order expansion around Φ.
pub const EXPANSION_CDF_DF: f64 = 1e5;

fn cornish_fisher(z: f64, v: f64) -> f64 {
    let z2 = z * z;
    let g1 = z * (z2 + 1.0) / 4.0;
    let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
    let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
    let g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
    let r = 1.0 / v;
    z + r * (g1 + r * (g2 + r * (g3 + r * g4)))
}

/// Quantile of Student's t with `df` degrees of freedom (`df > 0`, may be
/// infinite) at probability `p` in (0, 1). Returns `None` for `df <= 0` or NaN.
pub fn t_quantile(df: f64, p: f64) -> Option<f64> {
    if df.is_nan() || df <= 0.0 || !(p > 0.0 && p < 1.0) {
        return None;
    }
    if df >= CORNISH_FISHER_DF {
        let z = Normal::standard().inverse_cdf(p);
        return Some(cornish_fisher(z, df));
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.inverse_cdf(p))
}

/// Distribution function of Student's t (expansion for huge or infinite df).
pub fn t_cdf(df: f64, x: f64) -> Option<f64> {
    if df.is_nan() || df <= 0.0 || x.is_nan() {
        return None;
    }
    if df >= EXPANSION_CDF_DF {
        let n = Normal::standard();
        let corr = if x.is_finite() {
            n.pdf(x) * (x * x * x + x) / (4.0 * df)
        } else {
            0.0
        };
        return Some((n.cdf(x) - corr).clamp(0.0, 1.0));
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

    #[test]
    fn quantiles_match_known_values() {
        // qt(0.975, c(1, 10, 30, 100)) in R
        for (df, q) in [
            (1.0, 12.706204736174698),
            (10.0, 2.2281388519649385),
            (30.0, 2.0422724563012373),
            (100.0, 1.983971518523552),
        ] {
            let got = t_quantile(df, 0.975).unwrap();
            assert!(((got - q) / q).abs() < 1e-10, "df {df}: {got} vs {q}");
        }
        let z = t_quantile(f64::INFINITY, 0.975).unwrap();
        assert!((z - 1.959963984540054).abs() < 1e-12);
        // Both methods agree around the switch, and the quantile inverts the cdf.
        for df in [999.0, 1000.0, 1196.0, 5000.0] {
            let a = StudentsT::new(0.0, 1.0, df).unwrap().inverse_cdf(0.975);
            let b = cornish_fisher(z, df);
            assert!(((a - b) / b).abs() < 1e-12, "df {df}: {a} vs {b}");
        }
        for df in [3.0, 50.0, 1e3, 1e4, 1e5, 1e6, 1e8, 1e12, 1e300] {
            let q = t_quantile(df, 0.975).unwrap();
            let c = t_cdf(df, q).unwrap();
            assert!((c - 0.975).abs() < 1e-11, "df {df}: cdf(q) = {c}");
            assert!(q >= z);
        }
        assert!(t_quantile(0.0, 0.975).is_none());
        let p = two_sided_p(f64::INFINITY, 1.959963984540054).unwrap();
        assert!((p - 0.05).abs() < 1e-9, "{p}");
        assert!((two_sided_p(10.0, 2.2281388519649385).unwrap() - 0.05).abs() < 1e-10);
    }
}
