//! The population margins parser (`analysis::parse_margins`, what
//! `civicpulse margins set` and `indices --margins` read).
//!
//! Invariants: no panic; an error names the file; accepted margins are
//! not empty, have trimmed names and finite positive totals, and written
//! back as CSV they parse to the same margins.

#![no_main]

use civicpulse::analysis::parse_margins;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let margins = match parse_margins("fuzz.csv", data) {
        Ok(margins) => margins,
        Err(e) => {
            assert!(e.to_string().starts_with("margins: fuzz.csv: "), "{e}");
            return;
        }
    };
    assert!(!margins.is_empty());
    for m in &margins {
        assert!(m.total.is_finite() && m.total > 0.0, "total {}", m.total);
        assert_eq!(m.question.trim(), m.question);
        assert_eq!(m.value.trim(), m.value);
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["question", "value", "total"]).unwrap();
    for m in &margins {
        out.write_record([m.question.as_str(), m.value.as_str(), &m.total.to_string()])
            .unwrap();
    }
    let written = out.into_inner().unwrap();
    let again = parse_margins("again.csv", &written[..]).unwrap_or_else(|e| {
        panic!(
            "margins written back are refused: {e}\n{}",
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(again, margins);
});
