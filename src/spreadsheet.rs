//! Text cells made safe for spreadsheets. A CSV is opened in Excel or WPS
//! by people who trust it; a cell that starts like a formula
//! (`=HYPERLINK(...)`, `+`, `-`, `@`, a tab or a CR) would run as one. Every
//! CSV this program writes passes its text cells (answers, ids, labels,
//! names; never numbers, whose minus sign is data) through
//! [`neutralise_formula`], and the importer undoes it with
//! [`restore_neutralised`], so an export imports back as given.

use std::borrow::Cow;

/// What a spreadsheet reads as the start of a formula (OWASP's list), and
/// the quote that marks a cell as neutralised.
const FORMULA_STARTS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\''];

/// `cell` as a spreadsheet shows it as text: a leading `'` when it starts
/// like a formula (or with a `'` itself, so the quote can be undone exactly).
pub fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The cell an export neutralised, as it was given.
pub fn restore_neutralised(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_start_like_formulas_are_shown_as_text_and_come_back_unchanged() {
        for cell in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'=x",
            "''",
            "'",
        ] {
            let out = neutralise_formula(cell);
            assert!(out.starts_with('\''), "{cell:?} → {out:?}");
            assert_eq!(restore_neutralised(&out), cell);
        }
        for cell in ["", "4", "dk", "plain text", "a=b", "x'y"] {
            assert_eq!(neutralise_formula(cell), cell);
            assert_eq!(restore_neutralised(cell), cell);
        }
    }
}
