//! Errors, suppression, precision flags, degenerate intervals, grouping.

use super::*;

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn single_psu_stratum_is_an_error_naming_it() {
    let w = vec![Some(1.0); 5];
    let e = Design::new(DesignSpec {
        weights: &w,
        respondent_ids: None,
        strata: Some(&[0, 0, 1, 1, 1]),
        stratum_names: &names(&["north", "south"]),
        psus: Some(&[7, 7, 8, 9, 9]),
        lonely_psu: crate::stats::LonelyPsu::Fail,
    })
    .unwrap_err();
    assert_eq!(
        e,
        StatsError::SinglePsuStratum {
            stratum: "north".into()
        }
    );
    assert!(e.to_string().contains("stratum 'north' has only one"));
    // unclustered: a stratum with one respondent
    let e = Design::new(DesignSpec {
        weights: &w,
        respondent_ids: None,
        strata: Some(&[0, 0, 0, 0, 1]),
        stratum_names: &names(&["north", "south"]),
        psus: None,
        lonely_psu: crate::stats::LonelyPsu::Fail,
    })
    .unwrap_err();
    assert!(e.to_string().contains("'south'"), "{e}");
    // PSUs must be nested in strata
    let e = Design::new(DesignSpec {
        weights: &w,
        respondent_ids: None,
        strata: Some(&[0, 0, 1, 1, 1]),
        stratum_names: &names(&["north", "south"]),
        psus: Some(&[1, 2, 2, 3, 3]),
        lonely_psu: crate::stats::LonelyPsu::Fail,
    })
    .unwrap_err();
    assert!(matches!(e, StatsError::PsuNotNested { psu: 2, .. }), "{e}");
}

#[test]
fn bad_weights_name_the_respondent() {
    let ids = names(&["a", "b", "c"]);
    for (bad, reason) in [
        (None, "missing"),
        (Some(0.0), "zero"),
        (Some(-2.0), "negative"),
        (Some(f64::NAN), "NaN"),
        (Some(f64::INFINITY), "inf"),
    ] {
        let w = vec![Some(1.0), bad, Some(1.0)];
        let e = Design::new(DesignSpec {
            weights: &w,
            respondent_ids: Some(&ids),
            strata: None,
            stratum_names: &[],
            psus: None,
            lonely_psu: crate::stats::LonelyPsu::Fail,
        })
        .unwrap_err();
        match &e {
            StatsError::InvalidWeight { index, id, reason: r } => {
                assert_eq!(*index, 1);
                assert_eq!(id.as_deref(), Some("b"));
                assert!(r.contains(reason), "{r}");
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("respondent 1 (id 'b')"), "{e}");
    }
    let e = validate_weights(&[Some(1.0), Some(0.0)], None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "respondent 1 has an invalid weight (zero); every respondent needs a finite weight greater than 0"
    );
}

#[test]
fn raking_errors_name_margin_and_category() {
    let data = RefData::load();
    let design = data.design();
    // a sample category that the population lacks
    let mut m = data.margins.clone();
    let sex = m.iter_mut().find(|x| x.name == "sex").unwrap();
    let k = sex.categories.iter().position(|c| c == "female").unwrap();
    sex.totals[k] = None;
    let e = design.rake(&m, &RakeOptions::default()).unwrap_err();
    assert_eq!(
        e,
        StatsError::CategoryNotInPopulation {
            margin: "sex".into(),
            category: "female".into()
        }
    );
    assert!(e.to_string().contains("'female' of margin 'sex'"));
    // a population category with no respondents
    let mut m = data.margins.clone();
    let age = m.iter_mut().find(|x| x.name == "age_group").unwrap();
    age.categories.push("90+".into());
    age.totals.push(Some(1000.0));
    let e = design.rake(&m, &RakeOptions::default()).unwrap_err();
    assert_eq!(
        e,
        StatsError::CategoryNotInSample {
            margin: "age_group".into(),
            category: "90+".into()
        }
    );
    // too few sweeps
    for sweeps in [1, 2] {
        let e = design
            .rake(
                &data.margins,
                &RakeOptions {
                    max_sweeps: sweeps,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(
            matches!(e, StatsError::RakingDidNotConverge { sweeps: s, .. } if s == sweeps),
            "{e}"
        );
        assert!(e.to_string().contains("did not converge"));
    }
    // contradictory margins: sex totals sum to twice the district totals
    let mut m = data.margins.clone();
    for t in &mut m.iter_mut().find(|x| x.name == "sex").unwrap().totals {
        *t = t.map(|x| 2.0 * x);
    }
    let e = design.rake(&m, &RakeOptions::default()).unwrap_err();
    assert!(
        matches!(&e, StatsError::InconsistentMargins { other, .. } if other == "sex"),
        "{e}"
    );
    // ... which IPF alone would not notice (the table ends on the last
    // margin's total), as R's rake() does not; the check of every margin
    // after raking still refuses it.
    let lax = RakeOptions {
        max_total_discrepancy: f64::INFINITY,
        ..Default::default()
    };
    let e = design.rake(&m, &lax).unwrap_err();
    assert!(matches!(e, StatsError::RakingMissesMargin { .. }), "{e}");
    // the raked weights reproduce every margin
    let r = data.raked();
    assert!(r.raking_sweeps().unwrap() > 1);
    for mg in &data.margins {
        for (c, t) in mg.totals.iter().enumerate() {
            let s: f64 = (0..data.n)
                .filter(|&i| mg.codes[i] as usize == c)
                .map(|i| r.weights()[i])
                .sum();
            let t = t.unwrap();
            assert!(((s - t) / t).abs() < 1e-10, "{} {c}: {s} vs {t}", mg.name);
        }
    }
    assert_eq!(r.mode(), WeightMode::Raked);
    assert_eq!(r.design_weights()[0], data.weights[0].unwrap());
}

#[test]
fn suppression_and_precision_flags() {
    let data = RefData::load();
    let d = data.design();
    let vars = data.variables();
    // Whole sample: well estimated.
    let rows = estimate_all(&d, &vars, None, &EstimateOptions::default()).unwrap();
    assert_eq!(rows.len(), vars.len());
    assert!(rows.iter().all(|r| !r.score.suppressed && !r.score.low_precision));
    // A group of 5 respondents is suppressed with min_cell 10; n is kept.
    let codes: Vec<Option<u32>> = (0..data.n).map(|i| Some(u32::from(i < 5))).collect();
    let g = Grouping {
        codes: &codes,
        order: &[1, 0],
    };
    let rows = estimate_all(&d, &vars, Some(&g), &EstimateOptions::default()).unwrap();
    assert_eq!(rows.len(), 3 * vars.len());
    assert!(rows[..vars.len()].iter().all(|r| r.group.is_none()));
    let small = &rows[vars.len()];
    assert_eq!(small.group, Some(1));
    assert_eq!(small.score.n, 5);
    assert!(small.score.suppressed);
    assert_eq!(small.score.estimate, None);
    assert_eq!(small.score.se, None);
    assert_eq!(small.score.ci_low, None);
    assert_eq!(small.score.ci_unavailable, Some(CiUnavailable::Suppressed));
    // With min_cell 2 it is published but flagged (n_eff < 30, df < 8).
    let o = EstimateOptions {
        min_cell: 2,
        ..Default::default()
    };
    let rows = estimate_all(&d, &vars, Some(&g), &o).unwrap();
    let small = &rows[vars.len()];
    assert!(!small.score.suppressed && small.score.estimate.is_some());
    assert!(small.score.low_precision);
    assert!(small.score.df < 8);
    // CI width rule alone: a huge-variance variable on the full sample.
    let wild: Vec<f64> = (0..data.n).map(|i| if i % 2 == 0 { 0.0 } else { 2000.0 }).collect();
    let e = estimate(&d, Column::Numeric(&wild), Kind::Mean, None, &o).unwrap();
    assert!(e.n_eff.unwrap() >= 30.0 && e.df >= 8);
    assert!(e.ci_high.unwrap() - e.ci_low.unwrap() > 30.0 && e.low_precision);
    // Shares: 0.30 width threshold.
    let flags: Vec<Option<bool>> = (0..data.n).map(|i| Some(i % 3 == 0)).collect();
    let e = estimate(&d, Column::Indicator(&flags), Kind::Proportion, None, &o).unwrap();
    assert!(!e.low_precision && e.ci_high.unwrap() - e.ci_low.unwrap() < 0.30);
    // Serialisation for the API layer.
    let j = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(j["level"], "overall");
    assert_eq!(j["group"], serde_json::Value::Null);
    assert!(j["estimate"].is_f64() && j["suppressed"] == false);
}

#[test]
fn logit_ci_not_defined_at_zero_or_one() {
    let data = RefData::load();
    for d in [data.design(), data.raked()] {
        // share 1 in district code 0, 0 elsewhere
        let flags: Vec<Option<bool>> = data.district.iter().map(|c| Some(*c == Some(0))).collect();
        let o = EstimateOptions::default();
        let e = estimate(
            &d,
            Column::Indicator(&flags),
            Kind::Proportion,
            Some((&data.district, 0)),
            &o,
        )
        .unwrap();
        assert_eq!(e.estimate, Some(1.0));
        assert_eq!((e.ci_low, e.ci_high), (None, None));
        assert_eq!(e.ci_unavailable, Some(CiUnavailable::BoundaryProportion));
        assert!(e.ci_unavailable.unwrap().to_string().contains("not defined"));
        let e = estimate(
            &d,
            Column::Indicator(&flags),
            Kind::Proportion,
            Some((&data.district, 1)),
            &o,
        )
        .unwrap();
        assert_eq!(e.estimate, Some(0.0));
        assert_eq!(e.ci_unavailable, Some(CiUnavailable::BoundaryProportion));
        // strictly inside (0,1): a logit interval inside (0,1)
        let flags: Vec<Option<bool>> = (0..data.n).map(|i| Some(i % 3 == 0)).collect();
        let e = estimate(&d, Column::Indicator(&flags), Kind::Proportion, None, &o).unwrap();
        let (p, lo, hi) = (e.estimate.unwrap(), e.ci_low.unwrap(), e.ci_high.unwrap());
        assert!(0.0 < lo && lo < p && p < hi && hi < 1.0);
    }
}

#[test]
fn empty_domains_and_zero_df() {
    let data = RefData::load();
    let d = data.design();
    let y: Vec<f64> = (0..data.n).map(|i| if i == 0 { 50.0 } else { f64::NAN }).collect();
    let o = EstimateOptions {
        min_cell: 0,
        ..Default::default()
    };
    let e = estimate(&d, Column::Numeric(&y), Kind::Mean, None, &o).unwrap();
    assert_eq!((e.n, e.df, e.estimate), (1, 0, Some(50.0)));
    assert_eq!(e.ci_unavailable, Some(CiUnavailable::NoDegreesOfFreedom));
    assert!(e.low_precision);
    let e = estimate(&d, Column::Numeric(&y), Kind::Mean, Some((&data.district, 99)), &o).unwrap();
    assert_eq!((e.n, e.estimate, e.n_eff), (0, None, None));
    assert_eq!(e.ci_unavailable, Some(CiUnavailable::NoRespondents));
    // bad inputs
    let short = vec![1.0; 3];
    assert!(matches!(
        estimate(&d, Column::Numeric(&short), Kind::Mean, None, &o),
        Err(StatsError::LengthMismatch { .. })
    ));
    let mut inf = vec![1.0; data.n];
    inf[7] = f64::INFINITY;
    assert!(matches!(
        estimate(&d, Column::Numeric(&inf), Kind::Mean, None, &o),
        Err(StatsError::InvalidValue { index: 7, .. })
    ));
    let bad = EstimateOptions { level: 1.5, ..o };
    assert!(estimate(&d, Column::Numeric(&y), Kind::Mean, None, &bad).is_err());
}

#[test]
fn unweighted_whole_sample_is_textbook() {
    // weights none, whole sample: SE = s/√n, df = n − 1
    let y = [10.0, 20.0, 30.0, 45.0, 70.0];
    let d = Design::unweighted(5).unwrap();
    let e = estimate(
        &d,
        Column::Numeric(&y),
        Kind::Mean,
        None,
        &EstimateOptions {
            min_cell: 0,
            ..Default::default()
        },
    )
    .unwrap();
    let m = 35.0;
    let s2 = y.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 4.0;
    assert_eq!(e.estimate, Some(m));
    assert!((e.se.unwrap() - (s2 / 5.0).sqrt()).abs() < 1e-12);
    assert_eq!(e.df, 4);
    assert_eq!(e.n_eff, Some(5.0));
    assert_eq!(d.mode(), WeightMode::None);
}

#[test]
fn comparison_of_two_waves_from_estimates() {
    let data = RefData::load();
    let vars = data.variables();
    let o = EstimateOptions::default();
    let a = estimate_all(&data.design(), &vars[..1], None, &o).unwrap();
    let b = estimate_all(&data.raked(), &vars[..1], None, &o).unwrap();
    let c = compare(&a[0].score, &b[0].score, 0.95, super::super::DfRule::Min).unwrap();
    let (sa, sb) = (a[0].score.se.unwrap(), b[0].score.se.unwrap());
    assert!((c.se - (sa * sa + sb * sb).sqrt()).abs() < 1e-15);
    assert_eq!(
        c.difference,
        b[0].score.estimate.unwrap() - a[0].score.estimate.unwrap()
    );
    assert_eq!(c.df, a[0].score.df.min(b[0].score.df) as f64);
    let p = c.p_value.unwrap();
    assert!((0.0..=1.0).contains(&p));
    // p < 0.05 exactly when the 95 % CI excludes 0
    assert_eq!(p < 0.05, c.ci_low.unwrap() > 0.0 || c.ci_high.unwrap() < 0.0);
}

/// Margins that no weights can meet (two categories that always go
/// together in the sample but not in the population): IPF settles into a
/// cycle whose end-of-sweep table never changes, so it looks converged.
/// The check of every margin refuses it and names the category.
#[test]
fn raking_that_cannot_meet_its_margins_is_an_error() {
    use super::super::{Design, DesignSpec, Margin, RakeOptions};
    let weights = vec![Some(100.0); 4];
    let design = Design::new(DesignSpec {
        weights: &weights,
        respondent_ids: None,
        strata: None,
        stratum_names: &[],
        psus: None,
        lonely_psu: crate::stats::LonelyPsu::Fail,
    })
    .unwrap();
    let margin = |name: &str, totals: [f64; 2]| Margin {
        name: name.into(),
        categories: vec!["one".into(), "two".into()],
        codes: vec![0, 0, 1, 1],
        totals: totals.iter().map(|t| Some(*t)).collect(),
    };
    let e = design
        .rake(
            &[margin("district", [600.0, 400.0]), margin("sex", [500.0, 500.0])],
            &RakeOptions::default(),
        )
        .unwrap_err();
    match &e {
        StatsError::RakingMissesMargin {
            margin,
            target,
            achieved,
            ..
        } => {
            assert_eq!(margin, "district");
            assert!((target - achieved).abs() > 50.0, "{target} vs {achieved}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("does not meet its margins"));
    // Feasible margins are met, and the diagnostics say how.
    let raked = design
        .rake(
            &[margin("district", [600.0, 400.0]), margin("sex", [600.0, 400.0])],
            &RakeOptions::default(),
        )
        .unwrap();
    let d = raked.raking_diagnostics().unwrap();
    assert!(d.converged && d.max_margin_error < 1e-12);
    assert_eq!((d.weight_min, d.weight_max), (200.0, 300.0));
    assert_eq!((d.factor_min, d.factor_max), (2.0, 3.0));
    let mean = 250.0f64;
    let sd = ((4.0 * 50.0f64 * 50.0) / 3.0).sqrt();
    assert!((d.weight_cv - sd / mean).abs() < 1e-12);
}

/// Answer distributions: the one-pass coded method equals a column per
/// option, and the shares of a domain add up to 1.
#[test]
fn distributions_coded_equal_one_column_per_option() {
    use super::report_data::Wave;
    let wave = Wave::load("wave2026.csv");
    let design = wave.design(LonelyPsu::Fail);
    let options = EstimateOptions {
        min_cell: 0,
        ..Default::default()
    };
    let grouping = wave.grouping();
    // mob_parking's answers as codes 1..=6 (0: no answer).
    let values = ["1", "2", "3", "4", "5", "dk"];
    let codes: Vec<u8> = wave.answers["mob_parking"]
        .iter()
        .map(|a| values.iter().position(|v| v == a).map_or(0, |k| k as u8 + 1))
        .collect();
    let question = CodedAnswers {
        id: "mob_parking",
        codes: &codes,
        options: values.len(),
    };
    let shares = distributions(&design, &[question], Some(&grouping), &options).unwrap();
    assert_eq!(
        question.indicator_tables()[5],
        [None, Some(0.0), Some(0.0), Some(0.0), Some(0.0), Some(0.0), Some(1.0)]
    );
    let domains = 1 + grouping.order.len();
    assert_eq!(shares.len(), domains * values.len());
    for (k, table) in question.indicator_tables().iter().enumerate() {
        let column = Column::Coded {
            codes: &codes,
            values: table,
        };
        let by_column = &estimate_columns(&design, &[(column, Kind::Share)], Some(&grouping), &options).unwrap()[0];
        for (d, e) in by_column.iter().enumerate() {
            let coded = &shares[d * values.len() + k];
            assert_eq!((coded.option, coded.share.n, coded.share.df), (k, e.n, e.df));
            for (a, b) in [
                (coded.share.estimate, e.estimate),
                (coded.share.se, e.se),
                (coded.share.ci_low, e.ci_low),
            ] {
                let (a, b) = (a.unwrap(), b.unwrap());
                assert!(
                    (a - b).abs() <= 1e-13 * b.abs().max(1e-3),
                    "option {k} domain {d}: {a} vs {b}"
                );
            }
        }
    }
    for d in 0..domains {
        let total: f64 = shares[d * values.len()..(d + 1) * values.len()]
            .iter()
            .map(|s| s.share.estimate.unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-12, "domain {d}: shares add to {total}");
    }
    // The whole sample's mob_parking shares, as R gives them (SPEC §1).
    let r = [0.0815, 0.2134, 0.3256, 0.2267, 0.0856, 0.0673];
    for (k, &p) in r.iter().enumerate() {
        assert!((shares[k].share.estimate.unwrap() - p).abs() < 5e-5, "option {k}");
    }
}
