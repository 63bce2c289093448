//! Responses out, as JSON (one object per respondent) or wide CSV (one
//! column per question id). Streams: a survey with a million responses is
//! written without holding it in memory.
//!
//! A resident's text can start like a spreadsheet formula
//! (`=HYPERLINK(...)`); CSV cells are neutralised so that Excel or
//! LibreOffice shows the text instead of evaluating it, and `import` undoes
//! it, so an export imports back unchanged.

mod codebook;

pub use codebook::{codebook_json, codebook_markdown};

use crate::db::{Database, StoredResponse};
use crate::error::AppError;
use crate::lang::Lang;
use crate::registry::SurveyRegistry;
use crate::survey::{QuestionKind, Survey};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Json,
    Csv,
}

/// Reserved CSV columns, before the question columns. Their names match the
/// import format, so an export can be imported elsewhere.
pub const CSV_META_COLUMNS: [&str; 5] = ["_id", "_submitted_at", "_lang", "_version", "_wave"];

/// Separator of multi-choice values inside one CSV cell.
pub const MULTI_SEPARATOR: char = ';';

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

/// Every question id a survey has ever had: the latest version's order
/// first, then questions only older versions asked (they keep their
/// answers in exports after being removed).
pub fn question_columns(versions: &[&Survey]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for survey in versions.iter().rev() {
        for q in &survey.questions {
            if !columns.iter().any(|c| c == q.id.as_str()) {
                columns.push(q.id.to_string());
            }
        }
    }
    columns
}

fn is_multi(versions: &HashMap<u32, &Survey>, version: u32, question: &str) -> bool {
    versions
        .get(&version)
        .and_then(|s| s.question(question))
        .is_some_and(|q| matches!(q.kind, QuestionKind::MultiChoice { .. }))
}

/// What `export --out DIR` writes: the responses as wide CSV, with codes
/// and with labels in `lang`, and the codebook as JSON and Markdown. Returns the number of responses.
pub fn export_to_dir(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    lang: Lang,
    dir: &std::path::Path,
) -> Result<usize, AppError> {
    let versions: Vec<&Survey> = registry.versions(slug).iter().map(|s| &s.survey).collect();
    if versions.is_empty() {
        return Err(AppError::UnknownSurvey(slug.to_string()));
    }
    let by_version: HashMap<u32, &Survey> = versions.iter().map(|s| (s.version, *s)).collect();
    std::fs::create_dir_all(dir)?;
    // Each file is written beside its final name and renamed, so a failed
    // export never leaves a half-written file under that name.
    let write = |name: &str, fill: &mut dyn FnMut(&mut dyn Write) -> Result<(), AppError>| {
        let part = dir.join(format!(".{name}.part"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&part)?);
        fill(&mut out)?;
        out.flush()?;
        std::fs::rename(&part, dir.join(name))?;
        Ok::<_, AppError>(())
    };
    let mut count = 0;
    write("responses.csv", &mut |out| {
        count = write_csv(db, &versions, &by_version, slug, None, out)?;
        Ok(())
    })?;
    write("responses-labelled.csv", &mut |out| {
        write_csv(db, &versions, &by_version, slug, Some(lang), out)?;
        Ok(())
    })?;
    write("codebook.json", &mut |out| {
        serde_json::to_writer_pretty(&mut *out, &codebook_json(slug, &versions)).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        Ok(())
    })?;
    write("codebook.md", &mut |out| {
        out.write_all(codebook_markdown(slug, &versions).as_bytes())?;
        Ok(())
    })?;
    Ok(count)
}

/// Write every response of `slug` to `out`.
pub fn export(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<usize, AppError> {
    let versions: Vec<&Survey> = registry.versions(slug).iter().map(|s| &s.survey).collect();
    if versions.is_empty() {
        return Err(AppError::UnknownSurvey(slug.to_string()));
    }
    let by_version: HashMap<u32, &Survey> = versions.iter().map(|s| (s.version, *s)).collect();
    let mut count = 0usize;
    match format {
        ExportFormat::Json => {
            out.write_all(b"[")?;
            db.for_each_response(slug, |r: StoredResponse| -> Result<(), AppError> {
                let mut answers = Map::new();
                for (question, value) in &r.answers {
                    if is_multi(&by_version, r.version, question) {
                        let entry = answers
                            .entry(question.clone())
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(values) = entry {
                            values.push(Value::String(value.clone()));
                        }
                    } else {
                        answers.insert(question.clone(), Value::String(value.clone()));
                    }
                }
                let item = serde_json::json!({
                    "id": r.id,
                    "submitted_at": r.submitted_at,
                    "lang": r.lang,
                    "version": r.version,
                    "wave": r.wave,
                    "answers": answers,
                });
                out.write_all(if count == 0 { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, &item).map_err(std::io::Error::from)?;
                count += 1;
                Ok(())
            })?;
            out.write_all(if count == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        ExportFormat::Csv => count = write_csv(db, &versions, &by_version, slug, None, out)?,
    }
    Ok(count)
}

/// The wide CSV of `slug`, with each option's code, or (`labels`) its label
/// in that language; text answers as given. Cells that start like a
/// formula are neutralised.
fn write_csv(
    db: &Database,
    versions: &[&Survey],
    by_version: &HashMap<u32, &Survey>,
    slug: &str,
    labels: Option<Lang>,
    out: &mut dyn Write,
) -> Result<usize, AppError> {
    let columns = question_columns(versions);
    let index: HashMap<&str, usize> = columns.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let mut writer = csv::Writer::from_writer(&mut *out);
    writer.write_record(
        CSV_META_COLUMNS
            .iter()
            .copied()
            .chain(columns.iter().map(String::as_str)),
    )?;
    let mut count = 0;
    db.for_each_response(slug, |r: StoredResponse| -> Result<(), AppError> {
        let mut cells = vec![String::new(); columns.len()];
        for (question, value) in &r.answers {
            if let Some(&i) = index.get(question.as_str()) {
                if !cells[i].is_empty() {
                    cells[i].push(MULTI_SEPARATOR);
                }
                let label = labels.and_then(|lang| {
                    let q = by_version.get(&r.version)?.question(question)?;
                    Some(q.option(value)?.label.get(lang))
                });
                cells[i].push_str(label.unwrap_or(value));
            }
        }
        let (version, wave) = (r.version.to_string(), r.wave.to_string());
        let meta = [
            r.id.as_str(),
            r.submitted_at.as_str(),
            r.lang.as_str(),
            version.as_str(),
            wave.as_str(),
        ];
        writer.write_record(
            meta.into_iter()
                .map(Cow::Borrowed)
                .chain(cells.iter().map(|c| neutralise_formula(c)))
                .map(|c| c.into_owned().into_bytes()),
        )?;
        count += 1;
        Ok(())
    })?;
    writer.flush()?;
    Ok(count)
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
