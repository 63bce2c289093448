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

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DISTRICTS: [(&str, u32); 7] = [
    ("huancui", 620_000),
    ("wendeng", 480_000),
    ("rongcheng", 560_000),
    ("rushan", 430_000),
    ("gaoqu", 190_000),
    ("jingqu", 240_000),
    ("lingang", 110_000),
];
const CLUSTERS_PER_DISTRICT: [u32; 7] = [10, 9, 10, 8, 7, 8, 8]; // 60 in all
const AGES: [&str; 4] = ["18-29", "30-44", "45-59", "60+"];

fn write_data(dir: &Path, rows: usize) -> PathBuf {
    let csv_path = dir.join(format!("livability-{rows}.csv"));
    if csv_path.exists() {
        return csv_path;
    }
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    let mut rng = StdRng::seed_from_u64(20261129);
    let tmp = csv_path.with_extension("partial");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
    let questions: Vec<_> = survey
        .questions
        .iter()
        .filter(|q| q.kind.type_name() != "text")
        .collect();
    write!(out, "_id,_weight,_stratum,_cluster").unwrap();
    for q in &questions {
        write!(out, ",{}", q.id).unwrap();
    }
    writeln!(out).unwrap();
    let pop: u32 = DISTRICTS.iter().map(|d| d.1).sum();
    let mut id = 0usize;
    for (d, (district, size)) in DISTRICTS.iter().enumerate() {
        let n_h = if d == DISTRICTS.len() - 1 {
            rows - id
        } else {
            rows * *size as usize / pop as usize
        };
        let effect: f64 = rng.random_range(-10.0..10.0);
        let clusters = CLUSTERS_PER_DISTRICT[d];
        let cluster_effects: Vec<f64> = (0..clusters).map(|_| rng.random_range(-6.0..6.0)).collect();
        for _ in 0..n_h {
            id += 1;
            let c = rng.random_range(0..clusters) as usize;
            let weight = f64::from(*size) / n_h as f64 * rng.random_range(0.8..1.25);
            let age = AGES[rng.random_range(0..4)];
            let base = 62.0 + effect + cluster_effects[c] + if age == "60+" { 6.0 } else { 0.0 };
            write!(out, "r{id},{weight:.4},{district},{district}-c{c}").unwrap();
            let mut foreign = false;
            for q in &questions {
                let value = match q.id.as_str() {
                    // Asked only of foreign residents (skip logic).
                    "foreign_services" if !foreign => String::new(),
                    "district" => district.to_string(),
                    "sex" => if rng.random_bool(0.5) { "male" } else { "female" }.to_string(),
                    "age_group" => age.to_string(),
                    _ => {
                        let options = q.kind.options();
                        if q.kind.type_name() == "likert" {
                            if rng.random_bool(0.06) {
                                "dk".to_string()
                            } else {
                                let latent = base + rng.random_range(-35.0..35.0);
                                (1 + (latent / 25.0).round().clamp(0.0, 4.0) as usize).to_string()
                            }
                        } else {
                            options[rng.random_range(0..options.len())].value.to_string()
                        }
                    }
                };
                if q.id.as_str() == "resident_type" {
                    foreign = value == "foreign";
                }
                write!(out, ",{value}").unwrap();
            }
            writeln!(out).unwrap();
        }
    }
    out.flush().unwrap();
    drop(out);
    std::fs::rename(&tmp, &csv_path).unwrap();
    let mut margins = std::fs::File::create(dir.join("margins.csv")).unwrap();
    writeln!(margins, "question,value,total").unwrap();
    for (d, size) in DISTRICTS {
        writeln!(margins, "district,{d},{size}").unwrap();
    }
    writeln!(margins, "sex,male,{}", pop / 2).unwrap();
    writeln!(margins, "sex,female,{}", pop - pop / 2).unwrap();
    let shares = [0.17, 0.27, 0.29];
    let mut used = 0;
    for (age, share) in AGES.iter().zip(shares) {
        let t = (f64::from(pop) * share).round() as u32;
        used += t;
        writeln!(margins, "age_group,{age},{t}").unwrap();
    }
    writeln!(margins, "age_group,60+,{}", pop - used).unwrap();
    csv_path
}

/// Run the binary; returns (wall time, peak RSS in KiB read from /proc while it ran).
fn timed(args: &[&str], dir: &Path) -> (Duration, u64, String) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_civicpulse"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("civicpulse runs");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
            {
                peak = peak.max(kb.parse().unwrap_or(0));
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = start.elapsed();
    let output = reader.join().unwrap();
    assert!(child.wait().unwrap().success(), "civicpulse {args:?} failed");
    (elapsed, peak, output)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rows: usize = std::env::var("CIVICPULSE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
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
