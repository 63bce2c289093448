//! The generic bootstrap: totals, bounded raking, and replicates that lose a
//! raking category (SPEC §9).

use super::report_data::{rel, Wave};
use super::*;
use crate::stats::bootstrap::{bootstrap, BootstrapTask, BOOTSTRAP_METHOD};
use crate::stats::rake::WeightBounds;

/// A clustered toy: strata of `psus[h]` PSUs with `per_psu` respondents
/// each; the respondents of the PSUs listed in `x_psus` (global PSU
/// numbers) are in raking category x, everyone else in y. Weights vary a
/// little; y is a score.
struct Toy {
    weights: Vec<Option<f64>>,
    strata: Vec<u32>,
    psus: Vec<u32>,
    codes: Vec<u32>,
    y: Vec<f64>,
}

impl Toy {
    fn new(psus: &[usize], per_psu: usize, x_psus: &[u32]) -> Toy {
        let mut t = Toy {
            weights: Vec::new(),
            strata: Vec::new(),
            psus: Vec::new(),
            codes: Vec::new(),
            y: Vec::new(),
        };
        let mut psu = 0u32;
        for (h, &count) in psus.iter().enumerate() {
            for _ in 0..count {
                for k in 0..per_psu {
                    let i = t.y.len();
                    t.weights.push(Some(10.0 + (i % 7) as f64));
                    t.strata.push(h as u32);
                    t.psus.push(psu);
                    t.codes.push(u32::from(!x_psus.contains(&psu)));
                    t.y.push(((i * 37 + k * 11 + psu as usize * 5) % 101) as f64);
                }
                psu += 1;
            }
        }
        t
    }

    fn design(&self) -> Design {
        Design::new(DesignSpec {
            weights: &self.weights,
            respondent_ids: None,
            strata: Some(&self.strata),
            stratum_names: &[],
            psus: Some(&self.psus),
            lonely_psu: LonelyPsu::Fail,
        })
        .unwrap()
    }

    fn margin(&self) -> Margin {
        let n = self.y.len() as f64;
        let nx = self.codes.iter().filter(|&&c| c == 0).count() as f64;
        Margin {
            name: "group".into(),
            categories: vec!["x".into(), "y".into()],
            codes: self.codes.clone(),
            totals: vec![Some(15.0 * nx), Some(11.0 * (n - nx))],
        }
    }

    fn raked(&self) -> Design {
        self.design().rake(&[self.margin()], &RakeOptions::default()).unwrap()
    }
}

fn mean_task(y: &[f64]) -> BootstrapTask<'_> {
    BootstrapTask {
        column: Column::Numeric(y),
        statistic: Statistic::Mean,
    }
}

/// Category x in 3 of the 30 PSUs of one stratum: about 5% of replicates
/// draw none of them. They are drawn again, counted and named, and the run
/// is the same whatever the number of threads.
#[test]
fn replicates_that_lose_a_category_are_redrawn() {
    let toy = Toy::new(&[30, 3, 3], 4, &[0, 10, 20]);
    let d = toy.raked();
    let opts = BootstrapOptions {
        replicates: 400,
        seed: 11,
        threads: 1,
        cancel: Default::default(),
    };
    let tasks = [mean_task(&toy.y)];
    let run = bootstrap(&d, &tasks, None, &opts).unwrap();
    assert!(
        run.summary.redrawn > 0 && run.summary.redrawn <= 40,
        "{}",
        run.summary.redrawn
    );
    assert_eq!(run.summary.redrawn_for, vec!["group=x".to_string()]);
    assert_eq!(run.replicates_used[0][0], 400);
    assert!(run.se[0][0].unwrap() > 0.0);
    assert_eq!(
        (run.summary.replicates, run.summary.seed, run.summary.method),
        (400, 11, BOOTSTRAP_METHOD)
    );
    let again = bootstrap(
        &d,
        &tasks,
        None,
        &BootstrapOptions {
            threads: 4,
            ..opts.clone()
        },
    )
    .unwrap();
    assert_eq!(run, again);
    let summary = serde_json::to_value(&run.summary).unwrap();
    assert_eq!(summary["method"], "rao-wu rescaling");
    assert_eq!(summary["redrawn"], run.summary.redrawn);
    assert_eq!(summary["redrawn_for"][0], "group=x");
    // Without raking nothing needs a redraw.
    let plain = bootstrap(&toy.design(), &tasks, None, &opts).unwrap();
    assert_eq!((plain.summary.redrawn, plain.summary.redrawn_for.len()), (0, 0));
    println!("redrawn {} of 400, SE {:?}", run.summary.redrawn, run.se[0][0]);
}

/// SPEC §9's toy: 3 strata × 3 PSUs, category x in one PSU, lost by 4 in 9
/// replicates, far more than a tenth: an error that names the category.
#[test]
fn too_many_redraws_are_an_error_naming_the_category() {
    let toy = Toy::new(&[3, 3, 3], 5, &[1]);
    let d = toy.raked();
    let opts = BootstrapOptions {
        replicates: 50,
        seed: 5,
        threads: 2,
        cancel: Default::default(),
    };
    let e = bootstrap(&d, &[mean_task(&toy.y)], None, &opts).unwrap_err();
    match &e {
        StatsError::BootstrapTooManyRedraws {
            category,
            redrawn,
            replicates,
            limit,
            ..
        } => {
            assert_eq!(category, "group=x");
            assert_eq!((*replicates, *limit), (50, 5));
            assert!(*redrawn > 5);
        }
        other => panic!("{other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("raking category group=x") && msg.contains("collapse it") && msg.contains("linearised variance"),
        "{msg}"
    );
    // The same design without raking has nothing to lose.
    assert!(bootstrap(&toy.design(), &[mean_task(&toy.y)], None, &opts).is_ok());
}

/// Five strata of two PSUs, each with its own category in one PSU: a draw
/// keeps all five with probability 1/32, so some replicate fails 20 draws
/// in a row; that is an error naming the replicate and a category.
#[test]
fn a_replicate_failing_every_draw_is_an_error() {
    let mut toy = Toy::new(&[2, 2, 2, 2, 2], 3, &[]);
    toy.codes = toy.psus.iter().map(|&p| if p % 2 == 0 { p / 2 } else { 5 }).collect();
    let d = toy.design();
    let n = toy.y.len() as f64;
    let margin = Margin {
        name: "area".into(),
        categories: (0..5).map(|h| format!("a{h}")).chain(["rest".to_string()]).collect(),
        codes: toy.codes.clone(),
        totals: (0..5).map(|_| Some(30.0)).chain([Some(12.0 * n - 150.0)]).collect(),
    };
    let raked = d.rake(&[margin], &RakeOptions::default()).unwrap();
    let opts = BootstrapOptions {
        replicates: 10,
        seed: 1,
        threads: 2,
        cancel: Default::default(),
    };
    let e = bootstrap(&raked, &[mean_task(&toy.y)], None, &opts).unwrap_err();
    match &e {
        StatsError::BootstrapReplicateFails { attempts, category, .. } => {
            assert_eq!(*attempts, 20);
            assert!(category.starts_with("area=a"), "{category}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("in 20 draws in a row"), "{e}");
}

/// Totals: θ_b = Σ w_b y, close to the linearised SE (svytotal), for the
/// design and the raked weights; mean tasks equal `bootstrap_all`.
#[test]
fn totals_agree_with_linearisation() {
    let data = RefData::load();
    let vars = data.variables();
    let g = data.grouping();
    let ones = vec![1.0; data.n];
    let opts = BootstrapOptions {
        replicates: 500,
        seed: 2024,
        threads: 2,
        cancel: Default::default(),
    };
    let mut lo: f64 = f64::INFINITY;
    let mut hi: f64 = 0.0;
    for design in [data.design(), data.raked()] {
        let mut tasks = vec![BootstrapTask {
            column: Column::Numeric(&ones),
            statistic: Statistic::Total,
        }];
        let mut linear = vec![population_totals(&design, None, &EstimateOptions::default()).unwrap()[0].clone()];
        for v in vars.iter().filter(|v| v.top_box.is_some()).take(8) {
            let t = v.top_box.unwrap();
            tasks.push(BootstrapTask {
                column: Column::Indicator(t),
                statistic: Statistic::Total,
            });
            linear.push(
                estimate(
                    &design,
                    Column::Indicator(t),
                    Kind::Total,
                    None,
                    &EstimateOptions::default(),
                )
                .unwrap(),
            );
        }
        let run = bootstrap(&design, &tasks, None, &opts).unwrap();
        assert_eq!(run.summary.redrawn, 0);
        for (j, lin) in linear.iter().enumerate() {
            assert!(rel(run.estimate[j][0].unwrap(), lin.estimate.unwrap()) < 1e-12);
            assert_eq!(run.replicates_used[j][0], 500);
            let lin_se = lin.se.unwrap();
            if lin_se < 1e-6 * lin.estimate.unwrap() {
                // The population total of raked weights is fixed: both ~0.
                assert!(run.se[j][0].unwrap() < 1e-6 * lin.estimate.unwrap());
                continue;
            }
            let ratio = run.se[j][0].unwrap() / lin_se;
            lo = lo.min(ratio);
            hi = hi.max(ratio);
            assert!(
                (0.85..=1.15).contains(&ratio),
                "{:?} task {j}: ratio {ratio}",
                design.mode()
            );
        }
        // Domain totals: a replicate without members of a district
        // estimates 0 for it and still counts.
        let by = bootstrap(&design, &tasks[..1], Some(&g), &opts).unwrap();
        assert!(by.replicates_used[0].iter().all(|&u| u == 500));
        // Mean tasks are what bootstrap_all reports.
        let rows = bootstrap_all(&design, &vars[..2], Some(&g), &opts).unwrap();
        let run = bootstrap(
            &design,
            &[mean_task(vars[0].score), mean_task(vars[1].score)],
            Some(&g),
            &opts,
        )
        .unwrap();
        for (k, row) in rows.iter().enumerate() {
            let (j, d) = (k % 2, k / 2);
            assert_eq!((row.se, row.replicates_used), (run.se[j][d], run.replicates_used[j][d]));
        }
    }
    println!("bootstrap / linearised SE of totals: {lo:.4} .. {hi:.4}");
}

/// Bounded raking: every replicate is raked again within the same bounds.
#[test]
fn bounded_design_bootstrap() {
    let wave = Wave::load("wave2026.csv");
    let design = wave
        .design(LonelyPsu::Fail)
        .rake_bounded(
            &wave.margins(),
            WeightBounds::new(0.5, 2.0).unwrap(),
            &RakeOptions::default(),
        )
        .unwrap();
    let vars = wave.variables();
    let opts = BootstrapOptions {
        replicates: 300,
        seed: 9,
        threads: 2,
        cancel: Default::default(),
    };
    let tasks: Vec<BootstrapTask<'_>> = vars.iter().take(8).map(|v| mean_task(v.score)).collect();
    let run = bootstrap(&design, &tasks, None, &opts).unwrap();
    let lin = estimate_all(&design, &vars[..8], None, &EstimateOptions::default()).unwrap();
    let mut lo: f64 = f64::INFINITY;
    let mut hi: f64 = 0.0;
    for (j, row) in lin.iter().enumerate() {
        assert!(rel(run.estimate[j][0].unwrap(), row.score.estimate.unwrap()) < 1e-12);
        let ratio = run.se[j][0].unwrap() / row.score.se.unwrap();
        lo = lo.min(ratio);
        hi = hi.max(ratio);
        assert!((0.8..=1.2).contains(&ratio), "{}: ratio {ratio}", row.id);
    }
    // [0.5, 2] binds in the design (38 at 2 for age 18-29, which needs
    // 1.77 × its design weight): some replicates need more.
    assert_eq!(run.summary.redrawn, 0);
    assert!(
        run.summary.widened > 0 && run.summary.widened < 300,
        "{}",
        run.summary.widened
    );
    let [lower, upper] = run.summary.widest_bounds.unwrap();
    assert!(lower <= 0.5 && upper > 2.0, "{lower} {upper}");
    let again = bootstrap(
        &design,
        &tasks,
        None,
        &BootstrapOptions {
            threads: 3,
            ..opts.clone()
        },
    )
    .unwrap();
    assert_eq!(run, again);
    // Bounds that never bind anywhere are never widened.
    let loose = wave
        .design(LonelyPsu::Fail)
        .rake_bounded(
            &wave.margins(),
            WeightBounds::new(0.1, 10.0).unwrap(),
            &RakeOptions::default(),
        )
        .unwrap();
    let run_loose = bootstrap(&loose, &tasks, None, &opts).unwrap();
    assert_eq!((run_loose.summary.widened, run_loose.summary.widest_bounds), (0, None));
    println!(
        "bounded bootstrap: widened {} of 300 (widest {:?}); SE ratio {lo:.4} .. {hi:.4}",
        run.summary.widened, run.summary.widest_bounds
    );
}
