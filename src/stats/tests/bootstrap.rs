//! Rao–Wu bootstrap against the linearised standard errors.

use super::*;

#[test]
fn bootstrap_agrees_with_linearisation_and_is_reproducible() {
    let data = RefData::load();
    let vars = data.variables();
    let lin_opts = EstimateOptions::default();
    let mut lo: f64 = f64::INFINITY;
    let mut hi: f64 = 0.0;
    for design in [data.design(), data.raked()] {
        let lin = estimate_all(&design, &vars, None, &lin_opts).unwrap();
        let opts = BootstrapOptions {
            replicates: 2000,
            seed: 20240501,
            threads: 2,
            cancel: Default::default(),
        };
        let boot = bootstrap_all(&design, &vars, None, &opts).unwrap();
        let mut k = 0;
        for row in &lin {
            for (est, kind) in [(Some(&row.score), Kind::Mean), (row.top_box.as_ref(), Kind::Proportion)] {
                let Some(est) = est else { continue };
                let b = &boot[k];
                k += 1;
                assert_eq!((b.id.as_str(), b.kind, b.group), (row.id.as_str(), kind, None));
                assert_eq!(b.replicates_used, 2000);
                let e = b.estimate.unwrap();
                assert!((e - est.estimate.unwrap()).abs() <= 1e-9 * e.abs().max(1e-12));
                let ratio = b.se.unwrap() / est.se.unwrap();
                lo = lo.min(ratio);
                hi = hi.max(ratio);
                assert!(
                    (0.9..=1.1).contains(&ratio),
                    "{:?} {} {kind:?}: bootstrap {} vs linearised {}",
                    design.mode(),
                    row.id,
                    b.se.unwrap(),
                    est.se.unwrap()
                );
            }
        }
        assert_eq!(k, boot.len());
        // Same seed, different thread count: identical.
        let again = bootstrap_all(
            &design,
            &vars,
            None,
            &BootstrapOptions {
                threads: 1,
                ..opts.clone()
            },
        )
        .unwrap();
        assert_eq!(boot, again);
        let other = bootstrap_all(
            &design,
            &vars,
            None,
            &BootstrapOptions {
                seed: 7,
                replicates: 50,
                ..opts
            },
        )
        .unwrap();
        assert_ne!(other[0].se, boot[0].se);
    }
    println!("bootstrap / linearised SE ratio range: {lo:.4} .. {hi:.4}");
}

#[test]
fn bootstrap_by_group_and_errors() {
    let data = RefData::load();
    let vars = data.variables();
    let d = data.raked();
    let g = data.grouping();
    let opts = BootstrapOptions {
        replicates: 200,
        seed: 3,
        threads: 2,
        cancel: Default::default(),
    };
    let boot = bootstrap_all(&d, &vars[..3], Some(&g), &opts).unwrap();
    assert_eq!(boot.len(), 3 * (1 + data.district_order.len()));
    assert_eq!(boot[3].group, Some(data.district_order[0]));
    assert!(boot.iter().all(|b| b.se.unwrap() > 0.0));
    let bad = BootstrapOptions {
        replicates: 1,
        ..opts.clone()
    };
    assert!(bootstrap_all(&d, &vars, None, &bad).is_err());
}
