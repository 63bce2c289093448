//! Benchmark of the statistician's path at city scale (`cargo bench`).
//!
//! 1. Writes a synthetic 1,000,000-row interview file for the built-in
//!    livability survey: 7 districts as strata, 60 communities as clusters,
//!    design weights, every required question answered, 6% "don't know".
//! 2. Imports it with `civicpulse import` and reports rows per second.
//! 3. Runs `civicpulse indices --by district --weights raked` (overall,
//!    dimension and item indices with CIs) several times and reports the
//!    wall time and the peak resident memory of the process.
//! 4. Runs `civicpulse export --out` (both CSVs, the codebook and the R
//!    and Stata scripts) and reports responses per second and the peak
//!    resident memory.
//!
//! `CIVICPULSE_BENCH_ROWS` changes the size (e.g. 100000 for the R
//! comparison); the data stay in `target/bench-data/` between runs, and
//! `benches/r_compare.R` runs the same computation with R's survey package.

mod common;

use common::{bench_dir, timed, write_data};
use std::time::Instant;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rows: usize = std::env::var("CIVICPULSE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = bench_dir();
    let t = Instant::now();
    let csv = write_data(&dir, rows);
    println!(
        "data: {} ({} rows) ready in {:.1} s",
        csv.display(),
        rows,
        t.elapsed().as_secs_f64()
    );

    let db = dir.join(format!("bench-{rows}.db"));
    if !db.exists() {
        let db_arg = db.to_str().unwrap();
        let (elapsed, peak, out) = timed(
            &[
                "import",
                "livability",
                csv.to_str().unwrap(),
                "--wave",
                "2026",
                "--database",
                db_arg,
            ],
            &dir,
        );
        print!("{out}");
        println!(
            "import: {rows} rows in {:.1} s = {:.0} rows/s, peak memory {:.0} MiB",
            elapsed.as_secs_f64(),
            rows as f64 / elapsed.as_secs_f64(),
            peak as f64 / 1024.0
        );
    }
    let db_arg = db.to_str().unwrap();
    let args = [
        "indices",
        "livability",
        "--wave",
        "2026",
        "--by",
        "district",
        "--weights",
        "raked",
        "--margins",
        "margins.csv",
        "--database",
        db_arg,
    ];
    let mut times = Vec::new();
    let mut peak_max = 0;
    let mut rows_out = 0;
    for _ in 0..5 {
        let (elapsed, peak, out) = timed(&args, &dir);
        times.push(elapsed.as_secs_f64());
        peak_max = peak_max.max(peak);
        rows_out = serde_json::from_str::<serde_json::Value>(&out).unwrap()["rows"]
            .as_array()
            .unwrap()
            .len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "indices --by district --weights raked: {rows_out} rows; wall time median {:.3} s (min {:.3}, max {:.3}); peak memory {:.0} MiB",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        peak_max as f64 / 1024.0
    );

    let out = dir.join(format!("export-{rows}"));
    let (elapsed, peak, _) = timed(
        &[
            "export",
            "livability",
            "--out",
            out.to_str().unwrap(),
            "--wave",
            "2026",
            "--lang",
            "en",
            "--database",
            db_arg,
        ],
        &dir,
    );
    println!(
        "export --out: {rows} responses in {:.1} s = {:.0} responses/s, peak memory {:.0} MiB",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        peak as f64 / 1024.0
    );
}
