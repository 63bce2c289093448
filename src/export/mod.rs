//! Responses out, as JSON (one object per respondent) or wide CSV (one
//! column per question id, after the design columns and data-quality
//! flags), and `export --out DIR`: both CSVs (codes, and labels in one
//! language), the codebook, and an R script and a Stata do-file that read
//! the CSV, declare the design and print the overall index. Streams: a
//! survey with a million responses is written without holding it in
//! memory, in one pass over the database.
//!
//! A resident's text can start like a spreadsheet formula
//! (`=HYPERLINK(...)`); CSV cells are neutralised so that Excel or
//! LibreOffice shows the text instead of evaluating it, and `import` undoes
//! it, so an export imports back unchanged.

mod archive;
mod codebook;
mod design;
mod scripts;

pub use archive::export_zip;
pub use codebook::{codebook_json, codebook_markdown};
pub use scripts::{r_script, stata_script};

use crate::db::{Database, StoredResponse};
use crate::error::AppError;
use crate::fieldwork::Flag;
use crate::lang::Lang;
use crate::registry::SurveyRegistry;
use crate::spreadsheet::neutralise_formula;
use crate::survey::{QuestionKind, Survey};
use design::WaveDesign;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Json,
    Csv,
}

/// Why an export cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The writer stopped (its own error is the one reported).
    #[error("the export was abandoned")]
    Abandoned,
    #[error(
        "survey {slug:?} has no responses in wave {wave}; its waves with responses: {}",
        if waves.is_empty() { "none".to_string() } else { waves.iter().map(i32::to_string).collect::<Vec<_>>().join(", ") }
    )]
    NoWave { slug: String, wave: i32, waves: Vec<i32> },
}

/// Reserved CSV columns, before the question columns: the response's own,
/// then its design (docs/statistics.md §3) and its data-quality flags (§7),
/// one 0/1 column per flag. Their names match the import format, which
/// reads `_id` to `_wave` and the design columns and ignores `_version`,
/// `_source` and the flags, so an export can be imported elsewhere.
pub const CSV_META_COLUMNS: [&str; 12] = [
    "_id",
    "_submitted_at",
    "_lang",
    "_version",
    "_wave",
    "_weight",
    "_stratum",
    "_cluster",
    "_source",
    "_flag_speeder",
    "_flag_straightliner",
    "_flag_burst",
];

/// The flag each `_flag_*` column holds, in column order.
pub fn flag_column(flag: Flag) -> String {
    format!("_flag_{}", flag.as_str())
}

/// Separator of multi-choice values inside one CSV cell.
pub const MULTI_SEPARATOR: char = ';';

/// The files `export --out DIR` writes, in order.
pub const EXPORT_FILES: [&str; 6] = [
    "responses.csv",
    "responses-labelled.csv",
    "codebook.json",
    "codebook.md",
    "load.R",
    "load.do",
];

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

/// What an export holds and how its labels read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// One wave; `None`: every wave.
    pub wave: Option<i32>,
    /// The language of `responses-labelled.csv` and of the scripts' value labels.
    pub lang: Lang,
}

/// A survey's stored versions (oldest first), or the unknown-survey error;
/// and with `wave`, that the wave has responses.
fn versions_of<'r>(
    db: &Database,
    registry: &'r SurveyRegistry,
    slug: &str,
    wave: Option<i32>,
) -> Result<Vec<&'r Survey>, AppError> {
    let versions: Vec<&Survey> = registry.versions(slug).iter().map(|s| &s.survey).collect();
    if versions.is_empty() {
        return Err(AppError::UnknownSurvey(slug.to_string()));
    }
    if let Some(wave) = wave {
        let waves = db.waves(slug)?;
        if !waves.contains(&wave) {
            return Err(ExportError::NoWave {
                slug: slug.to_string(),
                wave,
                waves,
            }
            .into());
        }
    }
    Ok(versions)
}

/// How many responses an export of `slug` (one wave, or every wave) holds:
/// the total of a progress bar.
pub fn response_count(db: &Database, slug: &str, wave: Option<i32>) -> Result<u64, AppError> {
    Ok(db.count_responses(slug, wave)?)
}

/// What `export --out DIR` writes (every file of [`EXPORT_FILES`]): the
/// responses as wide CSV, with codes and with labels in `options.lang`,
/// the codebook as JSON and Markdown, and `load.R` and `load.do`. Both
/// CSVs are written in one pass over the responses, calling `progress`
/// with the count written so far. Returns the number of responses.
pub fn export_to_dir(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    options: &ExportOptions,
    dir: &std::path::Path,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, AppError> {
    let versions = versions_of(db, registry, slug, options.wave)?;
    std::fs::create_dir_all(dir)?;
    // Each file is written beside its final name and renamed, so a failed
    // export never leaves a half-written file under that name.
    let part = |name: &str| dir.join(format!(".{name}.part"));
    let create = |name: &str| -> Result<std::io::BufWriter<std::fs::File>, AppError> {
        Ok(std::io::BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(part(name))?,
        ))
    };
    let finish = |name: &str, mut out: std::io::BufWriter<std::fs::File>| -> Result<(), AppError> {
        out.flush()?;
        drop(out);
        std::fs::rename(part(name), dir.join(name))?;
        Ok(())
    };
    let mut coded = create(EXPORT_FILES[0])?;
    let mut labelled = create(EXPORT_FILES[1])?;
    let count = write_csvs(
        db,
        &versions,
        slug,
        options.wave,
        Some(&mut coded),
        Some((options.lang, &mut labelled)),
        progress,
    )?;
    finish(EXPORT_FILES[0], coded)?;
    finish(EXPORT_FILES[1], labelled)?;
    for name in &EXPORT_FILES[2..] {
        let mut out = create(name)?;
        write_small_file(name, slug, &versions, options, &mut out)?;
        finish(name, out)?;
    }
    Ok(count)
}

/// One of the files of an export that is not a CSV of responses.
fn write_small_file(
    name: &str,
    slug: &str,
    versions: &[&Survey],
    options: &ExportOptions,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    match name {
        "codebook.json" => {
            serde_json::to_writer_pretty(&mut *out, &codebook_json(slug, versions)).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
        }
        "codebook.md" => out.write_all(codebook_markdown(slug, versions).as_bytes())?,
        "load.R" => out.write_all(r_script(slug, versions, options).as_bytes())?,
        "load.do" => out.write_all(stata_script(slug, versions, options).as_bytes())?,
        other => unreachable!("{other} is not a file of an export"),
    }
    Ok(())
}

/// Write every response of `slug` (of one wave, or of all) to `out`.
pub fn export(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    wave: Option<i32>,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, AppError> {
    let versions = versions_of(db, registry, slug, wave)?;
    let by_version: HashMap<u32, &Survey> = versions.iter().map(|s| (s.version, *s)).collect();
    let mut count = 0u64;
    match format {
        ExportFormat::Json => {
            out.write_all(b"[")?;
            db.for_each_response_in(slug, wave, |r: StoredResponse| -> Result<(), AppError> {
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
        ExportFormat::Csv => count = write_csvs(db, &versions, slug, wave, Some(out), None, &mut |_| {})?,
    }
    Ok(count)
}

/// A CSV writer's error; one of the output (a closed pipe, a full disk)
/// as such, so that `civicpulse export … | head` ends quietly.
fn csv_error(e: csv::Error) -> AppError {
    if e.is_io_error() {
        if let csv::ErrorKind::Io(io) = e.into_kind() {
            return AppError::Output(io);
        }
        unreachable!("an I/O error of the CSV writer");
    }
    AppError::Csv(e)
}

/// Responses read ahead of the CSV writer, in batches of this many.
const READ_BATCH: usize = 256;
/// Batches read and not yet written, at most.
const READ_BATCHES_QUEUED: usize = 8;

/// A wide CSV being written: its writer and the language of its labels
/// (`None`: option codes).
struct CsvOut<'w> {
    writer: csv::Writer<&'w mut dyn Write>,
    labels: Option<Lang>,
}

/// The wide CSVs of `slug` in one pass over the responses: `coded` with
/// each option's code, `labelled` with its label in that language; text
/// answers as given. Cells that start like a formula are neutralised.
/// `progress` hears the count written every 1,000 responses and at the end.
pub(crate) fn write_csvs(
    db: &Database,
    versions: &[&Survey],
    slug: &str,
    wave: Option<i32>,
    coded: Option<&mut dyn Write>,
    labelled: Option<(Lang, &mut dyn Write)>,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, AppError> {
    let by_version: HashMap<u32, &Survey> = versions.iter().map(|s| (s.version, *s)).collect();
    let columns = question_columns(versions);
    let index: HashMap<&str, usize> = columns.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let mut outs: Vec<CsvOut<'_>> = Vec::new();
    if let Some(out) = coded {
        outs.push(CsvOut {
            writer: csv::Writer::from_writer(out),
            labels: None,
        });
    }
    if let Some((lang, out)) = labelled {
        outs.push(CsvOut {
            writer: csv::Writer::from_writer(out),
            labels: Some(lang),
        });
    }
    for out in &mut outs {
        out.writer
            .write_record(
                CSV_META_COLUMNS
                    .iter()
                    .copied()
                    .chain(columns.iter().map(String::as_str)),
            )
            .map_err(csv_error)?;
    }
    let waves = match wave {
        Some(w) => vec![w],
        None => db.waves(slug)?,
    };
    let mut count = 0u64;
    let mut record = csv::ByteRecord::new();
    let mut cells = vec![String::new(); columns.len()];
    // One thread reads the database (a third of the work is SQLite, a
    // third turning its rows into responses), the caller's writes the
    // CSVs; a bounded queue between them keeps memory constant.
    let mut write = |design: &design::DesignCells, r: &StoredResponse| -> Result<(), AppError> {
        let (version, wave) = (r.version.to_string(), r.wave.to_string());
        let weight = design.weight.map(|w| w.to_string()).unwrap_or_default();
        let flag = |f: Flag| if design.flags.has(f) { "1" } else { "0" };
        let meta: [&str; 12] = [
            &r.id,
            &r.submitted_at,
            &r.lang,
            &version,
            &wave,
            &weight,
            design.stratum.as_deref().unwrap_or(""),
            design.cluster.as_deref().unwrap_or(""),
            &design.source,
            flag(Flag::Speeder),
            flag(Flag::Straightliner),
            flag(Flag::Burst),
        ];
        for out in &mut outs {
            cells.iter_mut().for_each(String::clear);
            for (question, value) in &r.answers {
                if let Some(&i) = index.get(question.as_str()) {
                    if !cells[i].is_empty() {
                        cells[i].push(MULTI_SEPARATOR);
                    }
                    let label = out.labels.and_then(|lang| {
                        let q = by_version.get(&r.version)?.question(question)?;
                        Some(q.option(value)?.label.get(lang))
                    });
                    cells[i].push_str(label.unwrap_or(value));
                }
            }
            record.clear();
            // Ids, strata, clusters and batch names come from import
            // files, so they are neutralised like answers.
            for (k, cell) in meta.iter().enumerate() {
                if matches!(k, 0 | 6 | 7 | 8) {
                    record.push_field(neutralise_formula(cell).as_bytes());
                } else {
                    record.push_field(cell.as_bytes());
                }
            }
            for cell in &cells {
                record.push_field(neutralise_formula(cell).as_bytes());
            }
            out.writer.write_byte_record(&record).map_err(csv_error)?;
        }
        count += 1;
        if count % 1000 == 0 {
            progress(count);
        }
        Ok(())
    };
    type Batch = Vec<(design::DesignCells, StoredResponse)>;
    std::thread::scope(|scope| -> Result<(), AppError> {
        let (sender, batches) = std::sync::mpsc::sync_channel::<Batch>(READ_BATCHES_QUEUED);
        let reader = scope.spawn(move || -> Result<(), AppError> {
            for wave in waves {
                let design = WaveDesign::load(db, slug, wave)?;
                let mut batch = Vec::with_capacity(READ_BATCH);
                db.for_each_response_in(slug, Some(wave), |r: StoredResponse| -> Result<(), AppError> {
                    batch.push((design.cells(&r), r));
                    if batch.len() == READ_BATCH && sender.send(std::mem::take(&mut batch)).is_err() {
                        return Err(ExportError::Abandoned.into());
                    }
                    Ok(())
                })?;
                if !batch.is_empty() && sender.send(batch).is_err() {
                    return Err(ExportError::Abandoned.into());
                }
            }
            Ok(())
        });
        let written = batches
            .iter()
            .try_for_each(|batch| batch.iter().try_for_each(|(design, r)| write(design, r)));
        // A failed write drops the queue, which stops the reader.
        drop(batches);
        let read = reader.join().expect("the export's reader thread");
        written.and(read)
    })?;
    for out in &mut outs {
        out.writer.flush()?;
    }
    progress(count);
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_columns_are_the_flags() {
        let flags: Vec<String> = Flag::ALL.iter().map(|f| flag_column(*f)).collect();
        assert_eq!(CSV_META_COLUMNS[CSV_META_COLUMNS.len() - flags.len()..], flags);
    }
}
