//! `civicpulse import`: interview data from a CSV file, validated row by
//! row exactly like a web submission, and written all-or-nothing.
//!
//! The file is streamed: a million-row file never sits in memory. Every bad
//! row is reported with its row number (the header is row 1, as in a
//! spreadsheet), its column and the reason, and then nothing is written.

use crate::db::{Database, ImportCounts, ImportedResponse};
use crate::error::AppError;
use crate::fieldwork::quality::{is_straightliner, straightline_blocks};
use crate::lang::Lang;
use crate::registry::SurveyRegistry;
use crate::survey::{QuestionKind, RawAnswers, Survey};
use std::collections::HashSet;
use std::io::Read;

/// Reserved columns; every other column must be a question id.
pub const RESERVED_COLUMNS: [&str; 8] = [
    "_id",
    "_weight",
    "_stratum",
    "_cluster",
    "_submitted_at",
    "_lang",
    "_version",
    "_wave",
];

/// At most this many row problems are listed; the count covers them all.
const MAX_REPORTED: usize = 200;

/// One thing wrong with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub row: u64,
    pub column: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "row {}, column {:?}: {}", self.row, c, self.reason),
            None => write!(f, "row {}: {}", self.row, self.reason),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {} problem{} found, nothing was imported\n{}{}",
    total, if *total == 1 { "" } else { "s" },
    problems.iter().map(|p| format!("  {file}: {p}")).collect::<Vec<_>>().join("\n"),
    if *total > problems.len() { format!("\n  … and {} more", total - problems.len()) } else { String::new() })]
pub struct ImportError {
    pub file: String,
    pub problems: Vec<RowProblem>,
    pub total: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Wave for every row; otherwise the year of `_submitted_at`, or this year.
    pub wave: Option<i32>,
}

enum Column {
    Id,
    Weight,
    Stratum,
    Cluster,
    SubmittedAt,
    Lang,
    /// `_version` and `_wave` of an export: accepted, not used (the import
    /// answers the current version; `--wave` sets the wave).
    Ignored,
    Question {
        id: String,
        multi: bool,
    },
}

impl Column {
    fn name(&self) -> &str {
        match self {
            Column::Id => "_id",
            Column::Weight => "_weight",
            Column::Stratum => "_stratum",
            Column::Cluster => "_cluster",
            Column::SubmittedAt => "_submitted_at",
            Column::Lang => "_lang",
            Column::Ignored => "_version/_wave",
            Column::Question { id, .. } => id,
        }
    }
}

/// Import `reader` (CSV with a header) into the latest version of `slug`.
pub fn import_csv(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    file_name: &str,
    reader: impl Read,
    options: &ImportOptions,
) -> Result<ImportCounts, AppError> {
    let stored = registry
        .latest(slug)
        .ok_or_else(|| AppError::UnknownSurvey(slug.to_string()))?;
    let survey = &stored.survey;
    let fail = |problems: Vec<RowProblem>| {
        let total = problems.len();
        AppError::Import(ImportError {
            file: file_name.to_string(),
            problems,
            total,
        })
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let header = match csv.read_byte_record(&mut record) {
        Ok(true) => record.clone(),
        Ok(false) => {
            return Err(fail(vec![RowProblem {
                row: 1,
                column: None,
                reason: "the file is empty".into(),
            }]))
        }
        Err(e) => {
            return Err(fail(vec![RowProblem {
                row: 1,
                column: None,
                reason: e.to_string(),
            }]))
        }
    };
    let columns = parse_header(survey, &header).map_err(fail)?;
    let now = time::OffsetDateTime::now_utc();

    let mut problems: Vec<RowProblem> = Vec::new();
    let mut total_problems = 0usize;
    let mut seen_ids: HashSet<String> = HashSet::new();
    let blocks = straightline_blocks(survey);
    let result = db.import(stored.version_id, slug, |importer| -> Result<(), AppError> {
        loop {
            let next_line = csv.position().line();
            match csv.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    total_problems += 1;
                    problems.push(RowProblem {
                        row: next_line,
                        column: None,
                        reason: e.to_string(),
                    });
                    break;
                }
            }
            // The line the record starts on; a quoted cell may span lines.
            let row = record.position().map_or(next_line, |p| p.line());
            match parse_row(survey, &columns, &record, row, now, options, &mut seen_ids) {
                Ok(mut response) => {
                    response.straightliner = is_straightliner(&blocks, &response.choice_codes);
                    if total_problems == 0 {
                        importer.add(response)?;
                    }
                }
                Err(mut row_problems) => {
                    total_problems += row_problems.len();
                    let room = MAX_REPORTED.saturating_sub(problems.len());
                    row_problems.truncate(room);
                    problems.append(&mut row_problems);
                }
            }
        }
        if total_problems > 0 {
            Err(AppError::Import(ImportError {
                file: file_name.to_string(),
                problems: std::mem::take(&mut problems),
                total: total_problems,
            }))
        } else {
            Ok(())
        }
    });
    result.map(|((), counts)| counts)
}

fn parse_header(survey: &Survey, header: &csv::ByteRecord) -> Result<Vec<Column>, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut columns = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let name = match std::str::from_utf8(raw) {
            // A spreadsheet's UTF-8 byte-order mark is not part of the name.
            Ok(s) => s.trim_start_matches('\u{feff}').trim().to_string(),
            Err(_) => {
                problems.push(RowProblem {
                    row: 1,
                    column: None,
                    reason: format!("column {} is not valid UTF-8", i + 1),
                });
                continue;
            }
        };
        if !seen.insert(name.clone()) {
            problems.push(RowProblem {
                row: 1,
                column: Some(name),
                reason: "the column appears twice".into(),
            });
            continue;
        }
        let column = match name.as_str() {
            "_id" => Column::Id,
            "_weight" => Column::Weight,
            "_stratum" => Column::Stratum,
            "_cluster" => Column::Cluster,
            "_submitted_at" => Column::SubmittedAt,
            "_lang" => Column::Lang,
            "_version" | "_wave" => Column::Ignored,
            id => match survey.question(id) {
                Some(q) => Column::Question {
                    id: id.to_string(),
                    multi: matches!(q.kind, QuestionKind::MultiChoice { .. }),
                },
                None => {
                    problems.push(RowProblem {
                        row: 1,
                        column: Some(name.clone()),
                        reason: format!(
                            "not a question of survey {:?} v{} nor a reserved column ({})",
                            survey.slug.as_str(),
                            survey.version,
                            RESERVED_COLUMNS.join(", ")
                        ),
                    });
                    continue;
                }
            },
        };
        columns.push(column);
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(problems)
    }
}

fn parse_row(
    survey: &Survey,
    columns: &[Column],
    record: &csv::ByteRecord,
    row: u64,
    now: time::OffsetDateTime,
    options: &ImportOptions,
    seen_ids: &mut HashSet<String>,
) -> Result<ImportedResponse, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let mut problem = |column: &str, reason: String| {
        problems.push(RowProblem {
            row,
            column: Some(column.to_string()),
            reason,
        });
    };
    if record.len() != columns.len() {
        return Err(vec![RowProblem {
            row,
            column: None,
            reason: format!("{} cells, but the header has {} columns", record.len(), columns.len()),
        }]);
    }
    let mut raw = RawAnswers::default();
    let mut external_id = None;
    let mut weight = 1.0;
    let mut stratum = None;
    let mut cluster = None;
    let mut submitted_at = None;
    let mut lang = Lang::DEFAULT;
    for (column, bytes) in columns.iter().zip(record.iter()) {
        let Ok(cell) = std::str::from_utf8(bytes) else {
            problem(column.name(), "the cell is not valid UTF-8".into());
            continue;
        };
        let cell = cell.trim();
        match column {
            Column::Id => {
                if cell.is_empty() || cell.len() > 128 {
                    problem("_id", "an _id must have 1 to 128 characters".into());
                } else if !seen_ids.insert(cell.to_string()) {
                    problem("_id", format!("_id {cell:?} appears twice in the file"));
                } else {
                    external_id = Some(cell.to_string());
                }
            }
            Column::Weight => match cell.parse::<f64>() {
                Ok(w) if w.is_finite() && w > 0.0 => weight = w,
                Ok(w) => problem("_weight", format!("a weight must be positive, not {w}")),
                Err(_) if cell.is_empty() => problem("_weight", "the weight is missing".into()),
                Err(_) => problem("_weight", format!("{cell:?} is not a number")),
            },
            Column::Stratum => stratum = (!cell.is_empty()).then(|| cell.to_string()),
            Column::Cluster => cluster = (!cell.is_empty()).then(|| cell.to_string()),
            Column::SubmittedAt if cell.is_empty() => {}
            Column::SubmittedAt => match parse_time(cell) {
                Some(t) => submitted_at = Some(t),
                None => problem(
                    "_submitted_at",
                    format!("{cell:?} is not a date (use 2026-05-01 or 2026-05-01T09:30:00Z)"),
                ),
            },
            Column::Lang if cell.is_empty() => {}
            Column::Lang => match cell.parse::<Lang>() {
                Ok(l) => lang = l,
                Err(e) => problem("_lang", e.to_string()),
            },
            Column::Ignored => {}
            Column::Question { id, multi } => {
                if *multi {
                    for part in cell.split(crate::export::MULTI_SEPARATOR) {
                        raw.push(id, part.trim());
                    }
                } else {
                    raw.push(id, cell);
                }
            }
        }
    }
    let answers = match survey.validate(&raw) {
        Ok(a) => Some(a),
        Err(errors) => {
            for e in errors {
                problem(&e.question, e.to_string());
            }
            None
        }
    };
    match answers {
        Some(answers) if problems.is_empty() => {
            let submitted_at = submitted_at.unwrap_or(now);
            Ok(ImportedResponse {
                external_id,
                wave: options.wave.unwrap_or(submitted_at.year()),
                lang,
                submitted_at,
                weight,
                stratum,
                cluster,
                choice_codes: survey.choice_codes(&answers),
                answers,
                straightliner: false,
            })
        }
        _ => Err(problems),
    }
}

/// RFC 3339 (`2026-05-01T09:30:00Z`, any offset) or a plain date (midnight UTC).
fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc())
}
