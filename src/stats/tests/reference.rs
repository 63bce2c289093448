//! Reproduce every row of `tests/reference/expected.json` (R survey 4.1).

use super::*;
use serde_json::Value;

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(1e-300)
    }
}

#[derive(Default, Debug)]
struct MaxErr {
    estimate: f64,
    n_eff: f64,
    se: f64,
    ci: f64,
    top_box: f64,
}

#[test]
fn reproduces_r_survey_reference() {
    let data = RefData::load();
    let expected: Vec<Value> = serde_json::from_str(EXPECTED_JSON).unwrap();
    assert_eq!(expected.len(), 480);
    let designs = [
        ("none", Design::unweighted(data.n).unwrap()),
        ("design", data.design()),
        ("raked", data.raked()),
    ];
    let opts = EstimateOptions {
        min_cell: 0,
        ..Default::default()
    };
    let vars = data.variables();
    let mut ours: Vec<(String, Row)> = Vec::new();
    for (name, d) in &designs {
        for r in estimate_all(d, &vars, Some(&data.grouping()), &opts).unwrap() {
            ours.push((name.to_string(), r));
        }
    }
    let mut err = MaxErr::default();
    let mut matched = 0;
    for e in &expected {
        let wname = e["weights"].as_str().unwrap();
        let id = e["id"].as_str().unwrap();
        let group = e["group"].as_str();
        let gcode = group.map(|g| data.district_names.iter().position(|x| x == g).unwrap() as u32);
        let (_, r) = ours
            .iter()
            .find(|(w, r)| w == wname && r.id == id && r.group == gcode)
            .unwrap_or_else(|| panic!("no row for {wname} {id} {group:?}"));
        let level = e["level"].as_str().unwrap();
        assert_eq!(serde_json::to_value(r.level).unwrap(), level);
        let ctx = format!("{wname} {id} {group:?}");
        let s = &r.score;
        assert_eq!(s.n, e["n"].as_u64().unwrap(), "n {ctx}");
        assert_eq!(s.df, e["df"].as_u64().unwrap(), "df {ctx}");
        let f = |k: &str| e[k].as_f64().unwrap();
        let check = |slot: &mut f64, got: Option<f64>, want: f64, tol: f64, what: &str| {
            let r = rel(got.unwrap(), want);
            assert!(r <= tol, "{what} {ctx}: {got:?} vs {want} (rel {r:e})");
            *slot = slot.max(r);
        };
        check(&mut err.estimate, s.estimate, f("estimate"), 1e-9, "estimate");
        check(&mut err.n_eff, s.n_eff, f("n_eff"), 1e-9, "n_eff");
        check(&mut err.se, s.se, f("se"), 1e-6, "se");
        check(&mut err.ci, s.ci_low, f("ci_low"), 1e-6, "ci_low");
        check(&mut err.ci, s.ci_high, f("ci_high"), 1e-6, "ci_high");
        if level == "item" {
            let t = r.top_box.as_ref().unwrap();
            let et = &e["top_box"];
            for (got, k) in [(t.estimate, "estimate"), (t.ci_low, "ci_low"), (t.ci_high, "ci_high")] {
                check(&mut err.top_box, got, et[k].as_f64().unwrap(), 1e-6, "top_box");
            }
        } else {
            assert!(r.top_box.is_none());
        }
        matched += 1;
    }
    assert_eq!(matched, 480);
    // R emits a row exactly when n >= 2: so must every other row of ours be n < 2.
    let with_n2 = ours.iter().filter(|(_, r)| r.score.n >= 2).count();
    assert_eq!(with_n2, 480);
    println!("max relative errors vs R: {err:?}");
}

/// Direct formulation of R's svyrecvar for a raked design: 10 rounds of
/// per-margin centring of z on every respondent, then PSU totals.
fn direct_raked_se(data: &RefData, d: &Design, y: &[f64], group: Option<u32>) -> f64 {
    let w = d.weights().to_vec();
    let n = data.n;
    let psu: Vec<usize> = match &d.psu {
        Some(p) => p.iter().map(|&x| x as usize).collect(),
        None => (0..n).collect(),
    };
    let psu_stratum: Vec<usize> = match &d.psu {
        Some(_) => d.psu_stratum.iter().map(|&h| h as usize).collect(),
        None => d.stratum.iter().map(|&h| h as usize).collect(),
    };
    let inset: Vec<bool> = (0..n)
        .map(|i| !y[i].is_nan() && (group.is_none() || data.district[i] == group))
        .collect();
    let sw: f64 = (0..n).filter(|&i| inset[i]).map(|i| w[i]).sum();
    let m: f64 = (0..n).filter(|&i| inset[i]).map(|i| w[i] * y[i]).sum::<f64>() / sw;
    let mut z: Vec<f64> = (0..n)
        .map(|i| if inset[i] { w[i] * (y[i] - m) / sw } else { 0.0 })
        .collect();
    for _ in 0..10 {
        for mg in &data.margins {
            let nc = mg.categories.len();
            let mut s = vec![0.0; nc];
            let mut c = vec![0.0; nc];
            for i in 0..n {
                s[mg.codes[i] as usize] += z[i] / w[i];
                c[mg.codes[i] as usize] += 1.0;
            }
            for i in 0..n {
                let k = mg.codes[i] as usize;
                z[i] -= w[i] * s[k] / c[k];
            }
        }
    }
    let p_count = psu_stratum.len();
    let mut t = vec![0.0; p_count];
    for i in 0..n {
        t[psu[i]] += z[i];
    }
    let mut var = 0.0;
    for h in 0..d.n_strata() {
        let ps: Vec<usize> = (0..p_count).filter(|&p| psu_stratum[p] == h).collect();
        let nh = ps.len() as f64;
        if nh < 2.0 {
            continue;
        }
        let mean = ps.iter().map(|&p| t[p]).sum::<f64>() / nh;
        var += nh / (nh - 1.0) * ps.iter().map(|&p| (t[p] - mean).powi(2)).sum::<f64>();
    }
    var.sqrt()
}

/// The α shortcut of the raking variance (category sums + cross counts, and
/// for unclustered designs the per-(stratum, cell) expansion of Σz²) equals
/// the direct formulation, for the whole sample and each district, for a
/// clustered and an unclustered raked design.
#[test]
fn fast_raking_variance_matches_direct_formulation() {
    let data = RefData::load();
    let unclustered = Design::new(DesignSpec {
        weights: &data.weights,
        respondent_ids: None,
        strata: Some(&data.strata),
        stratum_names: &data.stratum_names,
        psus: None,
        lonely_psu: crate::stats::LonelyPsu::Fail,
    })
    .unwrap()
    .rake(&data.margins, &RakeOptions::default())
    .unwrap();
    let mut worst: f64 = 0.0;
    let vars = data.variables();
    for d in [data.raked(), unclustered] {
        for v in &vars {
            let cols: Vec<Vec<f64>> = match v.top_box {
                Some(t) => vec![
                    v.score.to_vec(),
                    t.iter().map(|b| b.map_or(f64::NAN, |b| b as u8 as f64)).collect(),
                ],
                None => vec![v.score.to_vec()],
            };
            for y in &cols {
                let groups = std::iter::once(None).chain(data.district_order.iter().map(|&g| Some(g)));
                for group in groups {
                    let direct = direct_raked_se(&data, &d, y, group);
                    let fast = estimate(
                        &d,
                        Column::Numeric(y),
                        Kind::Mean,
                        group.map(|g| (data.district.as_slice(), g)),
                        &EstimateOptions::default(),
                    )
                    .unwrap();
                    let r = rel(fast.se.unwrap(), direct);
                    worst = worst.max(r);
                    assert!(r < 1e-9, "{} {group:?}: {} vs {direct}", v.id, fast.se.unwrap());
                }
            }
        }
    }
    println!("fast vs direct raking variance: max rel diff {worst:e}");
}

/// The one-pass method for clustered designs equals the two-pass one.
#[test]
fn one_pass_equals_two_pass() {
    let data = RefData::load();
    let g = data.grouping();
    let slots = super::super::estimate::group_slots(data.n, &g).unwrap();
    let ng = data.district_order.len();
    let mut worst: f64 = 0.0;
    for d in [data.design(), data.raked()] {
        for (v, statistic) in data
            .variables()
            .into_iter()
            .flat_map(|v| [(v.clone(), Statistic::Mean), (v, Statistic::Total)])
        {
            let one = super::super::estimate::domain_stats(&d, Column::Numeric(v.score), statistic, &slots, ng);
            let y = v.score;
            let two = super::super::estimate::two_pass(&d, |i| y[i], statistic, &slots, ng);
            for (a, b) in one.iter().zip(&two) {
                assert_eq!((a.n, a.df), (b.n, b.df));
                assert!(rel(a.mean, b.mean) < 1e-13);
                assert!(rel(a.total, b.total) < 1e-13);
                assert!(rel(a.s2, b.s2) < 1e-12, "{}: s² {} vs {}", v.id, a.s2, b.s2);
                let r = rel(a.variance, b.variance);
                worst = worst.max(r);
                assert!(r < 1e-10, "{}: {} vs {}", v.id, a.variance, b.variance);
            }
        }
    }
    println!("one-pass vs two-pass variance: max rel diff {worst:e}");
}

/// The coded-item path gives the figures of the column path: codes are the
/// distinct (score, top-two) pairs of each item.
#[test]
fn coded_items_equal_columns() {
    use super::super::estimate::{estimate_all, estimate_items_coded, CodedItem, EstimateOptions, Level, Variable};
    let data = RefData::load();
    let g = data.grouping();
    let options = EstimateOptions {
        level: 0.95,
        min_cell: 2,
        threads: 2,
    };
    // Code tables: code 0 = no value, then the scores 0, 25, …, 100.
    let scores: Vec<Option<f64>> = std::iter::once(None)
        .chain((0..5).map(|x| Some(25.0 * x as f64)))
        .collect();
    let tops: Vec<Option<bool>> = std::iter::once(None).chain((0..5).map(|x| Some(x >= 3))).collect();
    let codes: Vec<Vec<u8>> = data
        .item_scores
        .iter()
        .map(|col| {
            col.iter()
                .map(|y| if y.is_nan() { 0 } else { (y / 25.0) as u8 + 1 })
                .collect()
        })
        .collect();
    for d in [data.design(), data.raked()] {
        let items: Vec<CodedItem<'_>> = data
            .item_ids
            .iter()
            .zip(&codes)
            .map(|(id, c)| CodedItem {
                id,
                codes: c,
                score_by_code: &scores,
                top_by_code: &tops,
            })
            .collect();
        let coded = estimate_items_coded(&d, &items, Some(&g), &options)
            .unwrap()
            .expect("clustered design");
        let variables: Vec<Variable<'_>> = data
            .item_ids
            .iter()
            .zip(data.item_scores.iter().zip(&data.item_top))
            .map(|(id, (s, t))| Variable {
                level: Level::Item,
                id: id.clone(),
                score: s,
                top_box: Some(t),
            })
            .collect();
        let columns = estimate_all(&d, &variables, Some(&g), &options).unwrap();
        assert_eq!(coded.len(), columns.len());
        for (a, b) in coded.iter().zip(&columns) {
            assert_eq!(
                (&a.id, a.group, a.score.n, a.score.df),
                (&b.id, b.group, b.score.n, b.score.df)
            );
            for (x, y) in [
                (a.score.estimate, b.score.estimate),
                (a.score.se, b.score.se),
                (a.score.ci_low, b.score.ci_low),
                (a.score.n_eff, b.score.n_eff),
                (
                    a.top_box.as_ref().unwrap().estimate,
                    b.top_box.as_ref().unwrap().estimate,
                ),
                (a.top_box.as_ref().unwrap().se, b.top_box.as_ref().unwrap().se),
                (a.top_box.as_ref().unwrap().ci_high, b.top_box.as_ref().unwrap().ci_high),
            ] {
                match (x, y) {
                    (Some(x), Some(y)) => assert!(rel(x, y) < 1e-12, "{} {:?}: {x} vs {y}", a.id, a.group),
                    (x, y) => assert_eq!(x, y),
                }
            }
        }
    }
    // Unclustered designs are left to the column path.
    let none = crate::stats::Design::unweighted(data.n).unwrap();
    let items = [CodedItem {
        id: "x",
        codes: &codes[0],
        score_by_code: &scores,
        top_by_code: &tops,
    }];
    assert!(estimate_items_coded(&none, &items, None, &options).unwrap().is_none());
}
