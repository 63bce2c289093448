//! Timing smoke test on 1,000,000 synthetic respondents (run in release:
//! `cargo test --release -- --ignored --nocapture timing`).

use super::*;
use rand::{Rng, SeedableRng};

#[test]
#[ignore]
fn timing_one_million_respondents_by_eight_groups_raked() {
    let n = 1_000_000usize;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let strata_n = 7u32;
    let psu_per_stratum = [8u32, 9, 9, 8, 9, 8, 9]; // 60 PSUs
    let mut strata = Vec::with_capacity(n);
    let mut psus = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    let mut sex = Vec::with_capacity(n);
    let mut age = Vec::with_capacity(n);
    let mut grp = Vec::with_capacity(n);
    for _ in 0..n {
        let h = rng.random_range(0..strata_n);
        let first: u32 = psu_per_stratum[..h as usize].iter().sum();
        strata.push(h);
        psus.push(first + rng.random_range(0..psu_per_stratum[h as usize]));
        weights.push(Some(rng.random_range(50.0..150.0)));
        sex.push(rng.random_range(0..2u32));
        age.push(rng.random_range(0..4u32));
        grp.push(Some(rng.random_range(0..8u32)));
    }
    let items = 14;
    let opt_scores = likert_option_scores(5);
    let mut scored = Vec::new();
    for _ in 0..items {
        let codes: Vec<Option<u32>> = (0..n)
            .map(|_| {
                if rng.random_bool(0.05) {
                    None
                } else {
                    Some(rng.random_range(0..5u32))
                }
            })
            .collect();
        scored.push(score_codes("q", &codes, &opt_scores).unwrap());
    }
    let dims: Vec<DimensionSpec> = (0..5)
        .map(|d| DimensionSpec {
            id: format!("d{d}"),
            weight: 1.0,
            in_overall: true,
            items: (0..items).filter(|j| j % 5 == d).map(|j| (j, 1.0)).collect(),
        })
        .collect();
    let cols: Vec<&[f64]> = scored.iter().map(|s| s.score.as_slice()).collect();
    let comp = composites(&cols, &dims).unwrap();
    let stratum_names: Vec<String> = (0..strata_n).map(|h| format!("s{h}")).collect();
    let t0 = std::time::Instant::now();
    let design = Design::new(DesignSpec {
        weights: &weights,
        respondent_ids: None,
        strata: Some(&strata),
        stratum_names: &stratum_names,
        psus: Some(&psus),
        lonely_psu: crate::stats::LonelyPsu::Fail,
    })
    .unwrap();
    let total = 1e8;
    let margins = vec![
        Margin {
            name: "stratum".into(),
            categories: stratum_names.clone(),
            codes: strata.clone(),
            totals: (0..7).map(|h| Some(total * (h + 1) as f64 / 28.0)).collect(),
        },
        Margin {
            name: "sex".into(),
            categories: vec!["m".into(), "f".into()],
            codes: sex,
            totals: vec![Some(0.49 * total), Some(0.51 * total)],
        },
        Margin {
            name: "age".into(),
            categories: (0..4).map(|a| format!("a{a}")).collect(),
            codes: age,
            totals: vec![
                Some(0.2 * total),
                Some(0.3 * total),
                Some(0.3 * total),
                Some(0.2 * total),
            ],
        },
    ];
    let raked = design.rake(&margins, &RakeOptions::default()).unwrap();
    let prep = t0.elapsed();
    let mut vars = vec![Variable {
        level: Level::Overall,
        id: "overall".into(),
        score: &comp.overall,
        top_box: None,
    }];
    for (d, c) in comp.dimensions.iter().enumerate() {
        vars.push(Variable {
            level: Level::Dimension,
            id: format!("d{d}"),
            score: c,
            top_box: None,
        });
    }
    for (j, s) in scored.iter().enumerate() {
        vars.push(Variable {
            level: Level::Item,
            id: format!("q{j}"),
            score: &s.score,
            top_box: Some(&s.top_box),
        });
    }
    let order: Vec<u32> = (0..8).collect();
    let g = Grouping {
        codes: &grp,
        order: &order,
    };
    for threads in [1, 2] {
        let opts = EstimateOptions {
            threads,
            ..Default::default()
        };
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let rows = estimate_all(&raked, &vars, Some(&g), &opts).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(rows.len(), 9 * vars.len());
        }
        println!(
            "1M respondents, {} variables (+{} top boxes), 8 groups, raked, {threads} thread(s): {:.3} s (design + raking {:.3} s)",
            vars.len(),
            items,
            best,
            prep.as_secs_f64()
        );
    }
}
