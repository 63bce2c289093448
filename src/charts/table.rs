//! The table behind a chart (WCAG 1.1.1 gives every chart one), written for
//! download as CSV and as `.xlsx`.
//!
//! CSV numbers are written at full precision (Rust's shortest round trip),
//! so that what an analyst downloads equals the API's JSON; the display
//! decimals only become the `.xlsx` number format. Text from designers or
//! residents can start like a spreadsheet formula: in CSV it is neutralised
//! as in every export (`crate::spreadsheet::neutralise_formula`); in `.xlsx` it is
//! stored as a string cell, which a spreadsheet never evaluates.

use super::ChartError;
use crate::spreadsheet::neutralise_formula;
use rust_xlsxwriter::{DocProperties, Format, Workbook};

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Names the sheet in `.xlsx` (cut to Excel's limits) and the workbook.
    pub title: String,
    pub columns: Vec<String>,
    /// Each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// `decimals` is how many a spreadsheet shows (at most 15); a `None` or
    /// non-finite value is an empty cell.
    Number {
        value: Option<f64>,
        decimals: u8,
    },
    Empty,
}

/// Every row as long as the header, or which one is not.
fn check_rows(table: &Table) -> Result<(), ChartError> {
    match table.rows.iter().position(|r| r.len() != table.columns.len()) {
        Some(i) => Err(ChartError::RowLength {
            title: table.title.clone(),
            row: i + 1,
            expected: table.columns.len(),
            found: table.rows[i].len(),
        }),
        None => Ok(()),
    }
}

/// `table` as CSV (header row first) to `out`.
pub fn write_csv(table: &Table, out: &mut dyn std::io::Write) -> Result<(), ChartError> {
    check_rows(table)?;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(table.columns.iter().map(|c| neutralise_formula(c).into_owned()))?;
    for row in &table.rows {
        writer.write_record(row.iter().map(|cell| match cell {
            Cell::Text(t) => neutralise_formula(t).into_owned(),
            Cell::Number { value: Some(v), .. } if v.is_finite() => format!("{v}"),
            Cell::Number { .. } | Cell::Empty => String::new(),
        }))?;
    }
    writer.flush()?;
    Ok(())
}

/// Excel's number format for `decimals` places: "0", "0.0", "0.00", ….
fn number_format(decimals: u8) -> String {
    let decimals = usize::from(decimals.min(15));
    if decimals == 0 {
        "0".to_string()
    } else {
        format!("0.{}", "0".repeat(decimals))
    }
}

/// A sheet name Excel accepts: none of `[]:*?/\`, not starting or ending
/// with `'`, at most 31 characters, not empty, not the reserved "History".
pub fn sheet_name(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| {
            if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cut: String = cleaned.trim().trim_matches('\'').trim().chars().take(31).collect();
    let cut = cut.trim_end().trim_end_matches('\'').to_string();
    if cut.is_empty() {
        "Sheet1".to_string()
    } else if cut.eq_ignore_ascii_case("history") {
        format!("{cut}_")
    } else {
        cut
    }
}

/// `table` as an `.xlsx` workbook of one sheet: a bold, frozen header row,
/// numbers as numbers shown with their decimals, text as strings.
pub fn xlsx(table: &Table) -> Result<Vec<u8>, ChartError> {
    check_rows(table)?;
    let mut workbook = Workbook::new();
    workbook.set_properties(&DocProperties::new().set_title(&table.title));
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name(&table.title))?;
    let bold = Format::new().set_bold();
    for (c, name) in table.columns.iter().enumerate() {
        sheet.write_string_with_format(0, col(c)?, name, &bold)?;
    }
    // One format per number of decimals, in the order first met.
    let mut formats: Vec<(u8, Format)> = Vec::new();
    for (r, row) in table.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| rust_xlsxwriter::XlsxError::RowColumnLimitError)?;
        for (c, cell) in row.iter().enumerate() {
            let c = col(c)?;
            match cell {
                Cell::Text(t) => {
                    sheet.write_string(r, c, t)?;
                }
                Cell::Number {
                    value: Some(v),
                    decimals,
                } if v.is_finite() => {
                    let format = match formats.iter().find(|(d, _)| d == decimals) {
                        Some((_, f)) => f,
                        None => {
                            formats.push((*decimals, Format::new().set_num_format(number_format(*decimals))));
                            &formats.last().expect("just pushed").1
                        }
                    };
                    sheet.write_number_with_format(r, c, *v, format)?;
                }
                Cell::Number { .. } | Cell::Empty => {}
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    Ok(workbook.save_to_buffer()?)
}

fn col(c: usize) -> Result<u16, ChartError> {
    u16::try_from(c).map_err(|_| ChartError::Xlsx(rust_xlsxwriter::XlsxError::RowColumnLimitError))
}
