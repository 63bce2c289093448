//! Bounded raking (R's `calibrate(calfun = "raking", bounds = c(L, U))`)
//! against `tests/reference/report/expected.json`.

use super::report_data::{check_mean_rows, expected_rows, rel, Wave};
use super::*;
use crate::stats::rake::{RakingMethod, WeightBounds};

fn bounds(lower: f64, upper: f64) -> WeightBounds {
    WeightBounds::new(lower, upper).unwrap()
}

fn wave2026() -> Wave {
    Wave::load("wave2026.csv")
}

/// The `weights` row of a figure.
fn weights_row(figure: &str) -> &'static serde_json::Value {
    expected_rows(figure)
        .into_iter()
        .find(|r| r["level"] == "weights")
        .unwrap()
}

#[test]
fn bounded_raking_matches_r() {
    let wave = wave2026();
    let design = wave
        .design(LonelyPsu::Fail)
        .rake_bounded(&wave.margins(), bounds(0.5, 2.0), &RakeOptions::default())
        .unwrap();
    let e = weights_row("raked_bounded");
    let f = |k: &str| e[k].as_f64().unwrap();
    let d = design.raking_diagnostics().unwrap();
    assert_eq!(d.method, RakingMethod::Bounded);
    assert_eq!(d.bounds, Some([0.5, 2.0]));
    assert_eq!((d.at_lower, d.at_upper), (0, 38));
    assert_eq!(
        (d.at_lower as u64, d.at_upper as u64),
        (e["n_at_lower"].as_u64().unwrap(), e["n_at_upper"].as_u64().unwrap())
    );
    assert!(d.converged && d.sweeps <= 10, "{d:?}");
    assert!(d.max_margin_error < 1e-13, "{d:?}");
    let n = wave.n as f64;
    // R's w_cv is the population form; ours divides by n − 1.
    let cv_population = d.weight_cv * ((n - 1.0) / n).sqrt();
    let mut worst: f64 = 0.0;
    for (got, key) in [
        (d.factor_min, "g_min"),
        (d.factor_max, "g_max"),
        (d.weight_min, "w_min"),
        (d.weight_max, "w_max"),
        (design.weight_total(), "sum_w"),
        (cv_population, "w_cv"),
        (n / design.n_eff(), "deff_kish"),
    ] {
        let r = rel(got, f(key));
        assert!(r < 1e-11, "{key}: {got} vs {} (rel {r:e})", f(key));
        worst = worst.max(r);
    }
    let diffs = check_mean_rows("raked_bounded", &wave, &design, 1e-9);
    assert_eq!(diffs.rows, 265);
    println!("raked_bounded: weights row max rel diff {worst:e}; means {diffs:?}; {d:?}");
}

/// Bounds that do not bind give rake()'s weights, with calibrate's
/// variance (R's `calibrate(calfun = "raking")` without bounds); rake()
/// itself keeps its own variance.
#[test]
fn loose_bounds_give_rake_weights_and_calibrate_variance() {
    let wave = wave2026();
    let base = wave.design(LonelyPsu::Fail);
    let margins = wave.margins();
    let tight = RakeOptions {
        epsilon: 1e-15,
        ..Default::default()
    };
    let raked = base.rake(&margins, &tight).unwrap();
    let bounded = base.rake_bounded(&margins, bounds(0.1, 10.0), &tight).unwrap();
    let d = bounded.raking_diagnostics().unwrap();
    assert_eq!((d.at_lower, d.at_upper), (0, 0));
    let worst_w = raked
        .weights()
        .iter()
        .zip(bounded.weights())
        .map(|(a, b)| rel(*b, *a))
        .fold(0.0, f64::max);
    assert!(worst_w < 1e-12, "weights differ by {worst_w:e}");
    // With the default IPF tolerance the weights agree less closely.
    let default_ipf = base.rake(&margins, &RakeOptions::default()).unwrap();
    let worst_default = default_ipf
        .weights()
        .iter()
        .zip(bounded.weights())
        .map(|(a, b)| rel(*b, *a))
        .fold(0.0, f64::max);
    let calibrate = check_mean_rows("raked_calibrate", &wave, &bounded, 1e-9);
    let rake = check_mean_rows("raked", &wave, &default_ipf, 1e-9);
    let e = weights_row("raked_calibrate");
    assert!(rel(d.factor_max, e["g_max"].as_f64().unwrap()) < 1e-12);
    println!(
        "bounded [0.1, 10] vs rake(): weights {worst_w:e} (default IPF tolerance {worst_default:e}); \
         raked_calibrate {calibrate:?}; raked {rake:?}"
    );
}

#[test]
fn infeasible_and_invalid_bounds_are_errors() {
    let wave = wave2026();
    let design = wave.design(LonelyPsu::Fail);
    let margins = wave.margins();
    // 18-29 needs 1.77 × its design weight.
    let e = design
        .rake_bounded(&margins, bounds(0.6, 1.6), &RakeOptions::default())
        .unwrap_err();
    match &e {
        StatsError::BoundsInfeasible {
            margin,
            category,
            lower,
            upper,
            target,
            achieved,
            ..
        } => {
            assert_eq!((margin.as_str(), category.as_str()), ("age_group", "18-29"));
            assert_eq!((*lower, *upper), (0.6, 1.6));
            assert_eq!(*target, 509910.0);
            assert!(*achieved < *target);
        }
        other => panic!("{other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("raking: weights bounded to [0.6, 1.6] × design weight cannot meet margin age_group=18-29")
            && msg.contains("the bounds alone rule it out")
            && msg.contains("widen the bounds or collapse categories"),
        "{msg}"
    );
    // SPEC §8: R's own solver fails at [0.55, 1.8]; Newton with the
    // consistent derivative meets the margins with 74 at the upper bound.
    let ok = design
        .rake_bounded(&margins, bounds(0.55, 1.8), &RakeOptions::default())
        .unwrap();
    let d = ok.raking_diagnostics().unwrap();
    assert_eq!((d.at_lower, d.at_upper), (0, 74), "{d:?}");
    assert!(d.max_margin_error < 1e-13);
    for (l, u) in [
        (0.0, 2.0),
        (1.2, 2.0),
        (0.5, 0.9),
        (1.0, 1.0),
        (f64::NAN, 2.0),
        (0.5, f64::INFINITY),
    ] {
        assert!(
            matches!(WeightBounds::new(l, u), Err(StatsError::InvalidArgument(_))),
            "[{l}, {u}]"
        );
        let e = design
            .rake_bounded(&margins, WeightBounds { lower: l, upper: u }, &RakeOptions::default())
            .unwrap_err();
        assert!(matches!(e, StatsError::InvalidArgument(_)), "{e}");
    }
    assert!(WeightBounds::new(1.0, 1.5).is_ok() && WeightBounds::new(0.5, 1.0).is_ok());
    // The margin checks are rake()'s.
    let mut m = margins.clone();
    let age = m.iter_mut().find(|x| x.name == "age_group").unwrap();
    age.categories.push("90+".into());
    age.totals.push(Some(1000.0));
    let e = design
        .rake_bounded(&m, bounds(0.5, 2.0), &RakeOptions::default())
        .unwrap_err();
    assert_eq!(
        e,
        StatsError::CategoryNotInSample {
            margin: "age_group".into(),
            category: "90+".into()
        }
    );
}

/// Margins no weights can meet although each category alone could (two
/// categories always together in the sample, apart in the population):
/// Newton cannot converge and the error names a category.
#[test]
fn contradictory_margins_under_bounds_are_an_error() {
    let weights = vec![Some(100.0); 4];
    let design = Design::new(DesignSpec {
        weights: &weights,
        respondent_ids: None,
        strata: None,
        stratum_names: &[],
        psus: None,
        lonely_psu: LonelyPsu::Fail,
    })
    .unwrap();
    let margin = |name: &str, totals: [f64; 2]| Margin {
        name: name.into(),
        categories: vec!["one".into(), "two".into()],
        codes: vec![0, 0, 1, 1],
        totals: totals.iter().map(|t| Some(*t)).collect(),
    };
    let e = design
        .rake_bounded(
            &[margin("district", [250.0, 150.0]), margin("sex", [200.0, 200.0])],
            bounds(0.5, 2.0),
            &RakeOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(&e, StatsError::BoundsInfeasible { iterations, .. } if *iterations > 0),
        "{e}"
    );
    assert!(e.to_string().contains("Newton iterations"), "{e}");
    // Consistent margins on the same sample: the collinear columns are
    // solved by the pivoted factorisation.
    let ok = design
        .rake_bounded(
            &[margin("district", [250.0, 150.0]), margin("sex", [250.0, 150.0])],
            bounds(0.5, 2.0),
            &RakeOptions::default(),
        )
        .unwrap();
    for (w, want) in ok.weights().iter().zip([125.0, 125.0, 75.0, 75.0]) {
        assert!(rel(*w, want) < 1e-12, "{w} vs {want}");
    }
    // A factor that would pass a bound is held at it, and the others make
    // up the margin.
    let two = Margin {
        name: "district".into(),
        categories: vec!["one".into(), "two".into()],
        codes: vec![0, 1, 1, 1],
        totals: vec![Some(250.0), Some(150.0)],
    };
    let e = design
        .rake_bounded(std::slice::from_ref(&two), bounds(0.5, 2.0), &RakeOptions::default())
        .unwrap_err();
    assert!(
        matches!(&e, StatsError::BoundsInfeasible { category, .. } if category == "one"),
        "{e}"
    );
    let ok = design
        .rake_bounded(std::slice::from_ref(&two), bounds(0.5, 2.5), &RakeOptions::default())
        .unwrap();
    assert!(rel(ok.weights()[0], 250.0) < 1e-14 && rel(ok.weights()[1], 50.0) < 1e-14);
}

/// Direct formulation of calibrate's variance: z̃ = z − w ⊙ Mβ with
/// β = (MᵀDM)⁻¹Mᵀ(z/g) on every respondent, M R's model matrix (intercept
/// and non-reference dummies), then the stratified PSU formula.
fn direct_calibrate_se(wave: &Wave, d: &Design, margins: &[Margin], y: &[f64], group: Option<u32>) -> f64 {
    let n = wave.n;
    let w = d.weights();
    let d0 = d.design_weights();
    let inset: Vec<bool> = (0..n)
        .map(|i| !y[i].is_nan() && (group.is_none() || wave.district[i] == group))
        .collect();
    let sw: f64 = (0..n).filter(|&i| inset[i]).map(|i| w[i]).sum();
    let m: f64 = (0..n).filter(|&i| inset[i]).map(|i| w[i] * y[i]).sum::<f64>() / sw;
    let u: Vec<f64> = (0..n).map(|i| if inset[i] { (y[i] - m) / sw } else { 0.0 }).collect();
    // Columns: intercept and the non-reference categories (R's model matrix).
    let mut cols: Vec<Vec<f64>> = vec![vec![1.0; n]];
    for mg in margins {
        for c in 1..mg.categories.len() {
            cols.push((0..n).map(|i| f64::from(u8::from(mg.codes[i] as usize == c))).collect());
        }
    }
    let p = cols.len();
    // Normal equations (MᵀDM)β = Mᵀ(D u), by Gaussian elimination.
    let mut a = vec![vec![0.0; p + 1]; p];
    for r in 0..p {
        for c in 0..p {
            a[r][c] = (0..n).map(|i| d0[i] * cols[r][i] * cols[c][i]).sum();
        }
        a[r][p] = (0..n).map(|i| d0[i] * cols[r][i] * u[i]).sum();
    }
    for j in 0..p {
        let piv = (j..p).max_by(|&x, &y| a[x][j].abs().total_cmp(&a[y][j].abs())).unwrap();
        a.swap(j, piv);
        for r in 0..p {
            if r != j {
                let f = a[r][j] / a[j][j];
                for c in j..=p {
                    a[r][c] -= f * a[j][c];
                }
            }
        }
    }
    let beta: Vec<f64> = (0..p).map(|j| a[j][p] / a[j][j]).collect();
    let z: Vec<f64> = (0..n)
        .map(|i| w[i] * (u[i] - (0..p).map(|j| beta[j] * cols[j][i]).sum::<f64>()))
        .collect();
    // Stratified variance over PSUs (each respondent when unclustered).
    let unit: Vec<(u32, u32)> = (0..n)
        .map(|i| (wave.strata[i], if d.psu.is_some() { wave.psus[i] } else { i as u32 }))
        .collect();
    let mut totals: std::collections::BTreeMap<(u32, u32), f64> = Default::default();
    for i in 0..n {
        *totals.entry(unit[i]).or_default() += z[i];
    }
    let mut var = 0.0;
    for h in 0..wave.stratum_names.len() as u32 {
        let t: Vec<f64> = totals.iter().filter(|(k, _)| k.0 == h).map(|(_, v)| *v).collect();
        let nh = t.len() as f64;
        let mean = t.iter().sum::<f64>() / nh;
        var += nh / (nh - 1.0) * t.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
    }
    var.sqrt()
}

/// The category-sum shortcut of calibrate's variance equals the direct
/// regression residual, for clustered (one pass) and unclustered (two
/// pass) designs, whole sample and each district.
#[test]
fn calibrate_variance_matches_direct_formulation() {
    let wave = wave2026();
    let margins = wave.margins();
    let unclustered = Design::new(DesignSpec {
        weights: &wave.weights,
        respondent_ids: None,
        strata: Some(&wave.strata),
        stratum_names: &wave.stratum_names,
        psus: None,
        lonely_psu: LonelyPsu::Fail,
    })
    .unwrap();
    let mut worst: f64 = 0.0;
    for base in [wave.design(LonelyPsu::Fail), unclustered] {
        let d = base
            .rake_bounded(&margins, bounds(0.5, 2.0), &RakeOptions::default())
            .unwrap();
        for v in wave.variables().iter().take(12) {
            let groups = std::iter::once(None).chain(wave.district_order.iter().map(|&g| Some(g)));
            for group in groups {
                let direct = direct_calibrate_se(&wave, &d, &margins, v.score, group);
                let fast = estimate(
                    &d,
                    Column::Numeric(v.score),
                    Kind::Mean,
                    group.map(|g| (wave.district.as_slice(), g)),
                    &EstimateOptions::default(),
                )
                .unwrap();
                let r = rel(fast.se.unwrap(), direct);
                worst = worst.max(r);
                assert!(r < 1e-9, "{} {group:?}: {} vs {direct}", v.id, fast.se.unwrap());
            }
        }
    }
    println!("calibrate variance, fast vs direct: max rel diff {worst:e}");
}

/// The one-pass method for clustered designs equals the two-pass one
/// under calibrate's variance too, for means and totals.
#[test]
fn bounded_one_pass_equals_two_pass() {
    use crate::stats::estimate::{domain_stats, group_slots, two_pass};
    let wave = wave2026();
    let d = wave
        .design(LonelyPsu::Fail)
        .rake_bounded(&wave.margins(), bounds(0.5, 2.0), &RakeOptions::default())
        .unwrap();
    let g = wave.grouping();
    let slots = group_slots(wave.n, &g).unwrap();
    let ng = wave.district_order.len();
    let mut worst: f64 = 0.0;
    for v in wave.variables() {
        for statistic in [Statistic::Mean, Statistic::Total] {
            let one = domain_stats(&d, Column::Numeric(v.score), statistic, &slots, ng);
            let y = v.score;
            let two = two_pass(&d, |i| y[i], statistic, &slots, ng);
            for (a, b) in one.iter().zip(&two) {
                assert_eq!((a.n, a.df), (b.n, b.df));
                // A one-respondent domain has variance 0 up to rounding.
                let r = (a.variance - b.variance).abs() / b.variance.abs().max(1e-12 * two[0].variance);
                worst = worst.max(r);
                assert!(r < 1e-10, "{} {statistic:?}: {} vs {}", v.id, a.variance, b.variance);
            }
        }
    }
    println!("bounded: one-pass vs two-pass variance: max rel diff {worst:e}");
}
