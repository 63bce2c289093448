//! What checking a submission's form token and invitation code costs
//! (`cargo bench --bench tokens`): issuing a signed form token, verifying
//! one, refusing a forged one, reading a typed invitation code with its
//! check symbol, and computing the code's lookup key. Each is timed over
//! many rounds; the median of several runs is reported, in microseconds.

use civicpulse::crypto::ServerKey;
use civicpulse::fieldwork::InvitationCode;
use civicpulse::web::security::{issue_form_token, verify_form_token, FormBinding};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: u32 = 20_000;
const RUNS: usize = 9;

fn median_micros(mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ROUNDS {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

fn main() {
    let key = ServerKey::generate();
    let binding = FormBinding {
        slug: "livability",
        version: 1,
        csrf: "0123456789abcdef0123456789abcdef",
    };
    let now = time::OffsetDateTime::now_utc();
    let token = issue_form_token(&key, &binding, now);
    let forged = "ab".repeat(28);
    let code = (0u32..)
        .find_map(|i| InvitationCode::from_nonce(&key, &i.to_be_bytes()))
        .unwrap()
        .to_string();
    let parsed = InvitationCode::parse(&code).unwrap();

    let rows = [
        (
            "issue a form token",
            median_micros(|| {
                black_box(issue_form_token(&key, black_box(&binding), now));
            }),
        ),
        (
            "verify a form token",
            median_micros(|| {
                black_box(verify_form_token(&key, black_box(&token), &binding, now)).unwrap();
            }),
        ),
        (
            "refuse a forged token",
            median_micros(|| {
                black_box(verify_form_token(&key, black_box(&forged), &binding, now)).unwrap_err();
            }),
        ),
        (
            "read a typed code (check symbol)",
            median_micros(|| {
                black_box(InvitationCode::parse(black_box(&code))).unwrap();
            }),
        ),
        (
            "lookup key of a code",
            median_micros(|| {
                black_box(black_box(&parsed).lookup_key(&key));
            }),
        ),
    ];
    println!("{:<36} {:>10}", "operation", "µs (median)");
    for (name, micros) in rows {
        println!("{name:<36} {micros:>10.3}");
    }
}
