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
//!
//! `CIVICPULSE_BENCH_BACKENDS` (default `sqlite,postgres`) chooses the
//! backends. On PostgreSQL (`CIVICPULSE_BENCH_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`; skipped with a message when
//! it does not answer) the data are imported once into a database of their
//! own beside that one (`cp_bench_indices_ROWS`, kept between runs), and
//! `indices` runs both ways: the database's sums (`--computation sums`,
//! docs/statistics.md §4.6) and every row read (what `auto` does,
//! `--computation rows`). Export runs on SQLite only.
//!
//! The import into PostgreSQL is slower than into SQLite (3,400 rows/s at
//! 1,000,000 on 2026-12-04, against 31,000): each response writes about 30
//! `answers` rows, each with its index and foreign-key check. It was once
//! quadratic (each chunk's lookup of existing ids scanned the table) and
//! unfinished after 10 minutes; `db::import::already_imported` fixed that.

mod common;

use common::{bench_dir, timed, write_data};
use std::time::Instant;

use diesel::{Connection, RunQueryDsl};
use std::path::Path;

/// The PostgreSQL server of the benchmark's databases, and its URL with
/// the database `name` in place of its own.
fn postgres_url(name: &str) -> (String, String) {
    let admin =
        std::env::var("CIVICPULSE_BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (base, _) = admin.rsplit_once('/').expect("a database URL");
    (admin.clone(), format!("{base}/{name}"))
}

fn import(rows: usize, csv: &Path, database: &str, dir: &Path) {
    let (elapsed, peak, out) = timed(
        &[
            "import",
            "livability",
            csv.to_str().unwrap(),
            "--wave",
            "2026",
            "--database",
            database,
        ],
        dir,
    );
    print!("{out}");
    println!(
        "import: {rows} rows in {:.1} s = {:.0} rows/s, peak memory {:.0} MiB",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        peak as f64 / 1024.0
    );
}

/// `indices --by district --weights raked` five times; the median wall
/// time and the peak memory.
fn run_indices(label: &str, database: &str, extra: &[&str], dir: &Path) {
    let mut args = vec![
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
        database,
    ];
    args.extend_from_slice(extra);
    let mut times = Vec::new();
    let mut peak_max = 0;
    let mut rows_out = 0;
    for _ in 0..5 {
        let (elapsed, peak, out) = timed(&args, dir);
        times.push(elapsed.as_secs_f64());
        peak_max = peak_max.max(peak);
        rows_out = serde_json::from_str::<serde_json::Value>(&out).unwrap()["rows"]
            .as_array()
            .unwrap()
            .len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{label}: indices --by district --weights raked: {rows_out} rows; wall time median {:.3} s (min {:.3}, max {:.3}); peak memory {:.0} MiB",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        peak_max as f64 / 1024.0
    );
}

fn sqlite(rows: usize, csv: &Path, dir: &Path) {
    let db = dir.join(format!("bench-{rows}.db"));
    if !db.exists() {
        import(rows, csv, db.to_str().unwrap(), dir);
    }
    let db_arg = db.to_str().unwrap();
    run_indices("SQLite", db_arg, &[], dir);

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
        dir,
    );
    println!(
        "export --out: {rows} responses in {:.1} s = {:.0} responses/s, peak memory {:.0} MiB",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        peak as f64 / 1024.0
    );
}

fn postgres(rows: usize, csv: &Path, dir: &Path) {
    let name = format!("cp_bench_indices_{rows}");
    let (admin, url) = postgres_url(&name);
    let mut conn = match diesel::PgConnection::establish(&admin) {
        Ok(c) => c,
        Err(e) => {
            println!("PostgreSQL skipped: {admin} does not answer ({e})");
            return;
        }
    };
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let found: Found = diesel::sql_query("SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(&name)
        .get_result(&mut conn)
        .unwrap();
    if found.n == 0 {
        // Imported under another name and renamed when complete, so an
        // interrupted import is never taken for the data.
        let building = format!("{name}_building");
        let (_, building_url) = postgres_url(&building);
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut conn)
            .unwrap();
        import(rows, csv, &building_url, dir);
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut conn)
            .unwrap();
        let mut db = diesel::PgConnection::establish(&url).unwrap();
        diesel::sql_query("VACUUM ANALYZE responses").execute(&mut db).unwrap();
    }
    run_indices("PostgreSQL, the database's sums", &url, &["--computation", "sums"], dir);
    run_indices("PostgreSQL, every row read", &url, &["--computation", "rows"], dir);
}

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
    let backends = std::env::var("CIVICPULSE_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        match backend {
            "sqlite" => sqlite(rows, &csv, &dir),
            "postgres" => postgres(rows, &csv, &dir),
            other => panic!("CIVICPULSE_BENCH_BACKENDS: unknown backend {other:?} (sqlite or postgres)"),
        }
    }
}
