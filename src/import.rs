//! `civicpulse import`: interview data from a CSV file, validated row by
//! row exactly like a web submission, and written all-or-nothing.
//!
//! Each import is one batch: the rows of one file in one wave, under a name
//! (`--name`, or the file's name). A respondent number (`_id`) is unique
//! within a wave, not across waves, because next year's file may number its
//! respondents from 1 again; a year whose rows were all "already imported"
//! must never pass for a success, so an import that adds nothing fails
//! unless `--skip-existing` says that is expected. A corrected file replaces
//! its batch (`import replace`) instead of being merged into it.
//!
//! The file is streamed: a million-row file never sits in memory. Every bad
//! row is reported with its row number (the header is row 1, as in a
//! spreadsheet), its column and the reason, and then nothing is written.
//!
//! Errors are this module's own [`ImportError`]; the command line turns them
//! into its `AppError` in one place.

use crate::db::{
    interned, BatchSpec, Database, DbError, ImportBatch, ImportCounts, ImportedResponse, Importer, StoredCluster,
};
use crate::fieldwork::quality::{is_straightliner, straightline_blocks};
use crate::lang::Lang;
use crate::registry::SurveyRegistry;
use crate::survey::{AnswerValue, Answers, QuestionKind, RawAnswers, Survey};
use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
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

/// Columns of an export that an import accepts and does not use (see
/// `Column::Ignored`).
pub const IGNORED_COLUMNS: [&str; 5] = [
    "_version",
    "_source",
    "_flag_speeder",
    "_flag_straightliner",
    "_flag_burst",
];

/// At most this many row problems are listed; the count covers them all.
const MAX_REPORTED: usize = 200;

/// Longest batch name; names are printed in tab-separated lists.
const MAX_NAME_CHARS: usize = 100;

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

/// Everything wrong with a file, as far as it was read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {} problem{} found, {consequence}\n{}{}",
    total, if *total == 1 { "" } else { "s" },
    problems.iter().map(|p| format!("  {file}: {p}")).collect::<Vec<_>>().join("\n"),
    if *total > problems.len() { format!("\n  … and {} more", total - problems.len()) } else { String::new() })]
pub struct FileProblems {
    pub file: String,
    pub problems: Vec<RowProblem>,
    pub total: usize,
    /// What came of it: "nothing was imported", or for a replacement, that
    /// the batch is unchanged.
    pub consequence: String,
}

/// Why an import, a replacement or a deletion did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileProblems),
    #[error("cannot read {file}: {error}")]
    Input { file: String, error: std::io::Error },
    #[error("no survey named {0:?}; `civicpulse survey list` shows the surveys")]
    UnknownSurvey(String),
    #[error("survey {slug:?} has no import batch {batch:?}; `civicpulse import list {slug}` lists them")]
    UnknownBatch { slug: String, batch: String },
    #[error(
        "{batch:?} names more than one import batch of survey {slug:?}: {}; give the id instead \
         (`civicpulse import list {slug}` lists them), or the wave with --wave",
        candidates.iter().map(|b| format!("id {} ({:?}, wave {})", b.id, b.name, b.wave)).collect::<Vec<_>>().join(", ")
    )]
    AmbiguousBatch {
        slug: String,
        batch: String,
        candidates: Vec<ImportBatch>,
    },
    #[error(
        "wave {wave} of survey {slug:?} already has an import batch named {name:?}; to put a corrected file \
         in its place run `civicpulse import replace {slug} {name} FILE.csv`, or give this import another --name"
    )]
    NameInUse { slug: String, wave: i32, name: String },
    #[error("{name:?} cannot name an import batch: {reason}; give another with --name")]
    BadName { name: String, reason: &'static str },
    /// Options that break their rules, one sentence each.
    #[error("the import options are not valid: {}", .0.join("; "))]
    BadOptions(Vec<String>),
    #[error(
        "{file}: nothing was imported: the _id of every row ({rows} in all) is already stored in wave {wave} \
         of {slug:?} ({}{}). If that is expected, run it again with --skip-existing; to put a corrected file \
         in place of an earlier import, use `civicpulse import replace {slug} BATCH {file}` (`civicpulse import \
         list {slug}` lists the batches); if the file belongs to another wave, say which with --wave or a _wave column",
        skipped_ids.join(", "), if *rows as usize > skipped_ids.len() { ", …" } else { "" }
    )]
    NothingAdded {
        file: String,
        slug: String,
        wave: i32,
        rows: u64,
        skipped_ids: Vec<String>,
    },
    #[error(
        "{file}: the _id of every row ({rows} in all) is already stored in other batches of wave {wave} of \
         {slug:?}, so batch {batch:?} would be left empty; it is unchanged (`civicpulse import delete {slug} \
         {batch}` removes a batch)"
    )]
    ReplacementEmpty {
        file: String,
        slug: String,
        batch: String,
        wave: i32,
        rows: u64,
    },
    #[error(transparent)]
    Database(DbError),
}

impl From<DbError> for ImportError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::ImportNameInUse { slug, wave, name } => ImportError::NameInUse { slug, wave, name },
            DbError::NoImportBatch { slug, id } => ImportError::UnknownBatch {
                slug,
                batch: id.to_string(),
            },
            e => ImportError::Database(e),
        }
    }
}

/// How to import a file, each option with its rule (`validator`); the
/// batch name's other rules (no control characters) are `batch_name`'s.
#[derive(Debug, Clone, Default, validator::Validate)]
pub struct ImportOptions {
    /// Wave of every row (`--wave`); otherwise a row's `_wave`, or the year
    /// of its `_submitted_at`, or this year.
    #[validate(range(min = 1900, max = 2999))]
    pub wave: Option<i32>,
    /// The batch's name; default: the file's name without its extension.
    #[validate(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// An import that adds nothing because every row is stored already
    /// succeeds (and says what it skipped) instead of failing.
    pub skip_existing: bool,
    /// Cluster labels are numbered within strata (R's `nest=TRUE`): the same
    /// label in two strata is two clusters, not a mistake.
    pub nest: bool,
}

/// What an import or a replacement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The wave of the file's rows.
    pub wave: i32,
    /// The batch as stored; `None` when nothing was added.
    pub batch: Option<ImportBatch>,
    pub counts: ImportCounts,
    /// For a replacement: how many responses the batch held before.
    pub replaced: Option<u64>,
}

/// Which wave the rows of a file belong to.
#[derive(Debug, Clone)]
enum WaveRule {
    /// A row's `_wave`, else the year of its `_submitted_at`.
    FromFile,
    /// `--wave`: every row's, and a `_wave` cell must agree.
    Given(i32),
    /// The wave of the batch being replaced, like `--wave`.
    Batch { wave: i32, name: String },
}

impl WaveRule {
    fn wave(&self) -> Option<i32> {
        match self {
            WaveRule::FromFile => None,
            WaveRule::Given(w) | WaveRule::Batch { wave: w, .. } => Some(*w),
        }
    }
}

enum Column {
    Id,
    Weight,
    Stratum,
    Cluster,
    SubmittedAt,
    Lang,
    Wave,
    /// What an export writes that an import does not take: `_version` (the
    /// import answers the current version), `_source` (imported rows are
    /// imports) and the `_flag_*` columns (flags are decided again from
    /// what is stored: the straightliner flag from the answers; an
    /// interview has no completion time and no open-link burst).
    Ignored(&'static str),
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
            Column::Wave => "_wave",
            Column::Ignored(name) => name,
            Column::Question { id, .. } => id,
        }
    }
}

/// Where validated rows go: the database inside the import's transaction,
/// or nowhere when a file is only being checked.
trait RowSink {
    fn stored_clusters(&mut self, wave: i32) -> Result<Vec<StoredCluster>, DbError>;
    fn add(&mut self, row: ImportedResponse) -> Result<(), DbError>;
}

impl RowSink for Importer<'_> {
    fn stored_clusters(&mut self, wave: i32) -> Result<Vec<StoredCluster>, DbError> {
        Importer::stored_clusters(self, wave)
    }

    fn add(&mut self, row: ImportedResponse) -> Result<(), DbError> {
        Importer::add(self, row)
    }
}

/// Reads the file against what is stored, and writes nothing.
struct CheckOnly<'a> {
    db: &'a Database,
    slug: &'a str,
    except: Option<i64>,
}

impl RowSink for CheckOnly<'_> {
    fn stored_clusters(&mut self, wave: i32) -> Result<Vec<StoredCluster>, DbError> {
        self.db.stored_clusters(self.slug, wave, self.except)
    }

    fn add(&mut self, _row: ImportedResponse) -> Result<(), DbError> {
        Ok(())
    }
}

/// What reading a file found, when it had no problem.
struct FileSummary {
    wave: i32,
    rows: u64,
}

/// The batch name of an import: `name`, or the file's name without its
/// extension.
pub fn batch_name(file_name: &str, name: Option<&str>) -> Result<String, ImportError> {
    let name = match name {
        Some(n) => n.trim().to_string(),
        None => std::path::Path::new(file_name)
            .file_stem()
            .map(|s| s.to_string_lossy().trim().to_string())
            .unwrap_or_default(),
    };
    let bad = |reason| ImportError::BadName {
        name: name.clone(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(bad("it is longer than 100 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("it holds a tab, a line break or another control character"));
    }
    Ok(name)
}

/// Import `reader` (CSV with a header) into the latest version of `slug`,
/// as a new batch.
pub fn import_csv(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    file_name: &str,
    reader: impl Read + Send,
    options: &ImportOptions,
    actor: &str,
) -> Result<ImportOutcome, ImportError> {
    validator::Validate::validate(options).map_err(|e| ImportError::BadOptions(crate::validation::problems(&e)))?;
    let stored = registry
        .latest(slug)
        .ok_or_else(|| ImportError::UnknownSurvey(slug.to_string()))?;
    let name = batch_name(file_name, options.name.as_deref())?;
    let rule = options.wave.map_or(WaveRule::FromFile, WaveRule::Given);
    let spec = BatchSpec {
        slug,
        version_id: stored.version_id,
        name: &name,
        file: file_name,
        nested: options.nest,
        actor,
    };
    let (summary, report) = db.import_batch(&spec, |importer| -> Result<FileSummary, ImportError> {
        let summary = read_file(
            &stored.survey,
            file_name,
            reader,
            &rule,
            options.nest,
            "nothing was imported",
            importer,
        )?;
        let counts = importer.finish()?;
        // Every row is stored already: most likely the same file again, or
        // another wave's file whose wave was not said.
        if counts.added == 0 && !options.skip_existing {
            return Err(ImportError::NothingAdded {
                file: file_name.to_string(),
                slug: slug.to_string(),
                wave: summary.wave,
                rows: summary.rows,
                skipped_ids: counts.skipped_ids.clone(),
            });
        }
        Ok(summary)
    })?;
    Ok(ImportOutcome {
        wave: summary.wave,
        batch: report.batch,
        counts: report.counts,
        replaced: None,
    })
}

/// The batch `batch` names: its id, or its name (in `wave`, if given).
pub fn find_batch(db: &Database, slug: &str, batch: &str, wave: Option<i32>) -> Result<ImportBatch, ImportError> {
    let id = batch.parse::<i64>().ok();
    let mut candidates: Vec<ImportBatch> = db
        .import_batches(slug, wave)?
        .into_iter()
        .filter(|b| b.name == batch || Some(b.id) == id)
        .collect();
    match candidates.len() {
        0 => Err(ImportError::UnknownBatch {
            slug: slug.to_string(),
            batch: batch.to_string(),
        }),
        1 => Ok(candidates.remove(0)),
        _ => Err(ImportError::AmbiguousBatch {
            slug: slug.to_string(),
            batch: batch.to_string(),
            candidates,
        }),
    }
}

/// Replace the responses of `batch` with the rows of a corrected file,
/// into the latest version of the survey. The file is read twice: first
/// checked completely with nothing written, then, in one transaction, the
/// batch's responses are deleted and the new rows imported into it. Its
/// rows must be of the batch's wave. A file with any problem changes
/// nothing.
pub fn replace_batch<R: Read + Send>(
    db: &Database,
    registry: &SurveyRegistry,
    batch: &ImportBatch,
    file_name: &str,
    mut open: impl FnMut() -> std::io::Result<R>,
    nest: bool,
    actor: &str,
) -> Result<ImportOutcome, ImportError> {
    let slug = batch.slug.as_str();
    let stored = registry
        .latest(slug)
        .ok_or_else(|| ImportError::UnknownSurvey(slug.to_string()))?;
    let mut reopen = || {
        open().map_err(|error| ImportError::Input {
            file: file_name.to_string(),
            error,
        })
    };
    let rule = WaveRule::Batch {
        wave: batch.wave,
        name: batch.name.clone(),
    };
    let consequence = format!("batch {:?} is unchanged", batch.name);
    let mut check = CheckOnly {
        db,
        slug,
        except: Some(batch.id),
    };
    read_file(
        &stored.survey,
        file_name,
        reopen()?,
        &rule,
        nest,
        &consequence,
        &mut check,
    )?;

    let spec = BatchSpec {
        slug,
        version_id: stored.version_id,
        name: &batch.name,
        file: file_name,
        nested: nest,
        actor,
    };
    let reader = reopen()?;
    let (summary, report) =
        db.replace_import_batch(batch.id, &spec, |importer| -> Result<FileSummary, ImportError> {
            let summary = read_file(&stored.survey, file_name, reader, &rule, nest, &consequence, importer)?;
            let counts = importer.finish()?;
            if counts.added == 0 {
                return Err(ImportError::ReplacementEmpty {
                    file: file_name.to_string(),
                    slug: slug.to_string(),
                    batch: batch.name.clone(),
                    wave: summary.wave,
                    rows: summary.rows,
                });
            }
            Ok(summary)
        })?;
    Ok(ImportOutcome {
        wave: summary.wave,
        batch: report.batch,
        counts: report.counts,
        replaced: report.replaced,
    })
}

/// Delete `batch` and its responses; returns how many responses went.
pub fn delete_batch(db: &Database, batch: &ImportBatch, actor: &str) -> Result<u64, ImportError> {
    let (_, removed) = db.delete_import_batch(&batch.slug, batch.id, actor)?;
    Ok(removed)
}

/// A file read and checked without a database: its wave and the rows an
/// import would store.
#[derive(Debug, Clone)]
pub struct CheckedFile {
    pub wave: i32,
    pub rows: Vec<ImportedResponse>,
}

/// Read and check a whole file against `survey` exactly as `import_csv`
/// does (the same reader, header, rows and checks across rows), but with
/// nothing stored before: a cluster label is compared with the file's own
/// rows only. `wave` is `--wave`. For tests and the fuzz targets (`fuzz/`).
pub fn check_csv(
    survey: &Survey,
    file_name: &str,
    reader: impl Read + Send,
    wave: Option<i32>,
    nest: bool,
) -> Result<CheckedFile, ImportError> {
    /// Keeps the rows; nothing is stored before.
    struct Collect(Vec<ImportedResponse>);
    impl RowSink for Collect {
        fn stored_clusters(&mut self, _wave: i32) -> Result<Vec<StoredCluster>, DbError> {
            Ok(Vec::new())
        }
        fn add(&mut self, row: ImportedResponse) -> Result<(), DbError> {
            self.0.push(row);
            Ok(())
        }
    }
    let rule = wave.map_or(WaveRule::FromFile, WaveRule::Given);
    let mut sink = Collect(Vec::new());
    let summary = read_file(
        survey,
        file_name,
        reader,
        &rule,
        nest,
        "nothing was imported",
        &mut sink,
    )?;
    debug_assert_eq!(summary.rows, sink.0.len() as u64);
    Ok(CheckedFile {
        wave: summary.wave,
        rows: sink.0,
    })
}

/// Read and check every row of a file, handing the good ones to `sink`
/// while no row has had a problem. Checks across rows: one wave for the
/// whole file, and (unless `nest`) each cluster label in one stratum, in
/// the file and in the wave as stored.
fn read_file(
    survey: &Survey,
    file_name: &str,
    reader: impl Read + Send,
    rule: &WaveRule,
    nest: bool,
    consequence: &str,
    sink: &mut impl RowSink,
) -> Result<FileSummary, ImportError> {
    let fail = |problems: Vec<RowProblem>, total: usize| FileProblems {
        file: file_name.to_string(),
        problems,
        total,
        consequence: consequence.to_string(),
    };
    let one = |row: u64, reason: String| {
        fail(
            vec![RowProblem {
                row,
                column: None,
                reason,
            }],
            1,
        )
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let header = match csv.read_byte_record(&mut record) {
        Ok(true) => record.clone(),
        Ok(false) => return Err(one(1, "the file is empty".into()).into()),
        Err(e) => return Err(one(1, e.to_string()).into()),
    };
    let columns = parse_header(survey, &header).map_err(|mut p| {
        let total = p.len();
        p.truncate(MAX_REPORTED);
        fail(p, total)
    })?;
    let has = |name: &str| columns.iter().any(|c| c.name() == name);
    let mut waves = WaveCheck {
        rule: rule.clone(),
        has_wave_column: has("_wave"),
        first: None,
    };
    let mut clusters = (has("_cluster") && !nest).then(ClusterCheck::default);
    let mut strata = has("_stratum").then(StratumCheck::default);
    let now = time::OffsetDateTime::now_utc();
    let blocks = straightline_blocks(survey);

    let mut problems: Vec<RowProblem> = Vec::new();
    let mut total_problems = 0usize;
    let mut rows = 0u64;
    // Reading and checking rows (CSV, answers against the definition) runs
    // on a thread of its own, a bounded queue ahead of the checks across
    // rows and the writes here: the two take about a third and two thirds
    // of an import, and a full queue holds the reader back, so memory stays
    // constant.
    std::thread::scope(|scope| -> Result<(), ImportError> {
        let (parsed, arrivals) = std::sync::mpsc::sync_channel::<Vec<ParsedRow>>(PARSED_BATCHES_QUEUED);
        let columns = &columns;
        scope.spawn(move || parse_rows(csv, survey, columns, now, rule, parsed));
        for batch in arrivals {
            for ParsedRow { row, parsed } in batch {
                let mut row_problems = match parsed {
                    Ok(mut response) => {
                        let mut found = Vec::new();
                        if let Some(problem) = waves.check(row, response.wave) {
                            found.push(problem);
                        } else if let Some(problem) = strata.as_mut().and_then(|c| c.check(row, &response)) {
                            found.push(problem);
                        } else if let Some(check) = clusters.as_mut() {
                            found.extend(check.check(row, &response, sink)?);
                        }
                        if found.is_empty() {
                            rows += 1;
                            response.straightliner = is_straightliner(&blocks, &response.choice_codes);
                            if total_problems == 0 {
                                sink.add(response)?;
                            }
                        }
                        found
                    }
                    Err(row_problems) => row_problems,
                };
                total_problems += row_problems.len();
                row_problems.truncate(MAX_REPORTED.saturating_sub(problems.len()));
                problems.append(&mut row_problems);
            }
        }
        Ok(())
    })?;
    if total_problems > 0 {
        return Err(fail(problems, total_problems).into());
    }
    match waves.first {
        Some((wave, _)) if rows > 0 => Ok(FileSummary { wave, rows }),
        _ => Err(one(2, "there are no rows under the header".into()).into()),
    }
}

/// The `_id`s of a file so far, to refuse one that appears twice: a
/// 128-bit keyed hash of each (two SipHash keys drawn per import), 16 bytes
/// a row instead of a string's 50 or more, so a million-row file costs
/// some 20 MiB here. Two different ids share a hash with a probability of
/// 2⁻¹²⁸ a pair, far below anything a file can meet.
#[derive(Default)]
struct SeenIds {
    keys: (RandomState, RandomState),
    seen: HashSet<u128>,
}

impl SeenIds {
    /// Whether `id` is new (and now seen).
    fn insert(&mut self, id: &str) -> bool {
        use std::hash::BuildHasher;
        let hash = (u128::from(self.keys.0.hash_one(id)) << 64) | u128::from(self.keys.1.hash_one(id));
        self.seen.insert(hash)
    }
}

/// Rows read and checked on their own, handed over in batches of this many.
const PARSED_BATCH: usize = 256;
/// Batches waiting to be written, at most.
const PARSED_BATCHES_QUEUED: usize = 8;

/// A row as read: the line it starts on, and the response or its problems.
struct ParsedRow {
    row: u64,
    parsed: Result<ImportedResponse, Vec<RowProblem>>,
}

/// Read every row after the header and check it on its own (cells, answers
/// against the definition, `_id` unique in the file), sending the results
/// in order; stops after a row the CSV reader cannot read, or when the
/// receiver is gone (the import failed).
fn parse_rows<R: Read>(
    mut csv: csv::Reader<R>,
    survey: &Survey,
    columns: &[Column],
    now: time::OffsetDateTime,
    rule: &WaveRule,
    out: std::sync::mpsc::SyncSender<Vec<ParsedRow>>,
) {
    let mut seen_ids = SeenIds::default();
    let mut record = csv::ByteRecord::new();
    let mut batch = Vec::with_capacity(PARSED_BATCH);
    loop {
        let next_line = csv.position().line();
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                batch.push(ParsedRow {
                    row: next_line,
                    parsed: Err(vec![RowProblem {
                        row: next_line,
                        column: None,
                        reason: e.to_string(),
                    }]),
                });
                break;
            }
        }
        // The line the record starts on; a quoted cell may span lines.
        let row = record.position().map_or(next_line, |p| p.line());
        let parsed = parse_row(survey, columns, &record, row, now, rule, &mut seen_ids);
        batch.push(ParsedRow { row, parsed });
        if batch.len() == PARSED_BATCH && out.send(std::mem::take(&mut batch)).is_err() {
            return;
        }
    }
    if !batch.is_empty() {
        let _ = out.send(batch);
    }
}

/// One import is one wave: every row's wave must be the first row's.
struct WaveCheck {
    rule: WaveRule,
    has_wave_column: bool,
    /// The first row's wave and row number.
    first: Option<(i32, u64)>,
}

impl WaveCheck {
    fn check(&mut self, row: u64, wave: i32) -> Option<RowProblem> {
        let (first, first_row) = *self.first.get_or_insert((wave, row));
        if wave == first {
            return None;
        }
        // With --wave or a batch's wave, a row of another wave was refused
        // already (its `_wave` cell); only the file's own waves differ here.
        let (column, reason) = if self.has_wave_column {
            (
                "_wave",
                format!(
                    "this row is wave {wave} but row {first_row} is wave {first}; an import holds one wave: \
                     split the file into one file per wave"
                ),
            )
        } else {
            (
                "_submitted_at",
                format!(
                    "this row was submitted in {wave} but row {first_row} in {first}, which would make two waves; \
                     an import holds one wave: give --wave to put the whole file in one, or split the file"
                ),
            )
        };
        debug_assert!(matches!(self.rule, WaveRule::FromFile));
        Some(RowProblem {
            row,
            column: Some(column.into()),
            reason,
        })
    }
}

/// Either every row has a stratum or none has: an empty `_stratum` among
/// filled ones would silently become a stratum of its own, while a column
/// empty throughout (as an export of an unstratified sample writes it)
/// means no strata.
#[derive(Default)]
struct StratumCheck {
    /// Whether the first row has a stratum, and its row number.
    first: Option<(bool, u64)>,
}

impl StratumCheck {
    fn check(&mut self, row: u64, response: &ImportedResponse) -> Option<RowProblem> {
        let has = response.stratum.is_some();
        let (first, first_row) = *self.first.get_or_insert((has, row));
        (has != first).then(|| RowProblem {
            row,
            column: Some("_stratum".into()),
            reason: if has {
                format!(
                    "row {first_row} has an empty stratum but this one has one; every row needs one, or leave \
                     the column out (or every cell of it empty)"
                )
            } else {
                format!("the stratum is empty; every row needs one, or leave the column out (row {first_row} has one)")
            },
        })
    }
}

/// Cluster labels are numbered across strata unless `--nest` says
/// otherwise, so one label in two strata is a mistake in the file (or in
/// what was stored before), not two clusters.
#[derive(Default)]
struct ClusterCheck {
    /// Label → its stratum and the first row it was seen on.
    in_file: HashMap<String, (Option<String>, u64)>,
    /// Label → as stored in the file's wave (read with the first cluster).
    stored: Option<HashMap<String, StoredCluster>>,
    /// Labels refused already: each is reported once.
    refused: HashSet<String>,
}

fn stratum_text(stratum: &Option<String>) -> String {
    match stratum {
        Some(s) => format!("stratum {s:?}"),
        None => "no stratum".into(),
    }
}

const NEST_HINT: &str = "correct the label, or if cluster labels are numbered within each stratum \
                         (R's nest=TRUE) say so with --nest";

impl ClusterCheck {
    fn check(
        &mut self,
        row: u64,
        response: &ImportedResponse,
        sink: &mut impl RowSink,
    ) -> Result<Option<RowProblem>, DbError> {
        let Some(label) = &response.cluster else {
            return Ok(None);
        };
        if self.refused.contains(label) {
            return Ok(None);
        }
        let stratum = &response.stratum;
        let problem = |reason: String| RowProblem {
            row,
            column: Some("_cluster".into()),
            reason,
        };
        match self.in_file.get(label) {
            Some((other, other_row)) if other != stratum => {
                let reason = format!(
                    "cluster {label:?} is in {} here but in {} on row {other_row}; {NEST_HINT}",
                    stratum_text(stratum),
                    stratum_text(other)
                );
                self.refused.insert(label.clone());
                return Ok(Some(problem(reason)));
            }
            Some(_) => return Ok(None),
            None => {
                self.in_file.insert(label.clone(), (stratum.clone(), row));
            }
        }
        let stored = match &mut self.stored {
            Some(stored) => stored,
            None => {
                let mut map = HashMap::new();
                for c in sink.stored_clusters(response.wave)? {
                    map.entry(c.cluster.clone()).or_insert(c);
                }
                self.stored.insert(map)
            }
        };
        match stored.get(label) {
            Some(c) if &c.stratum != stratum => {
                let batch = c.batch.as_ref().map(|b| format!(" (batch {b:?})")).unwrap_or_default();
                let reason = format!(
                    "cluster {label:?} is in {} here but in {} in wave {} as stored{batch}; {NEST_HINT}",
                    stratum_text(stratum),
                    stratum_text(&c.stratum),
                    response.wave
                );
                self.refused.insert(label.clone());
                Ok(Some(problem(reason)))
            }
            _ => Ok(None),
        }
    }
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
            "_wave" => Column::Wave,
            name if IGNORED_COLUMNS.contains(&name) => {
                Column::Ignored(IGNORED_COLUMNS.iter().find(|c| **c == name).expect("listed"))
            }
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
                            "not a question of survey {:?} v{} nor a reserved column ({}; {} are accepted \
                             and ignored)",
                            survey.slug.as_str(),
                            survey.version,
                            RESERVED_COLUMNS.join(", "),
                            IGNORED_COLUMNS.join(", ")
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
    rule: &WaveRule,
    seen_ids: &mut SeenIds,
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
    let mut wave = rule.wave();
    for (column, bytes) in columns.iter().zip(record.iter()) {
        let Ok(cell) = std::str::from_utf8(bytes) else {
            problem(column.name(), "the cell is not valid UTF-8".into());
            continue;
        };
        let cell = cell.trim();
        // An export's neutralised formula reads back as given (its ids,
        // strata and clusters come from import files too).
        let cell = match column {
            Column::Id | Column::Stratum | Column::Cluster => crate::spreadsheet::restore_neutralised(cell),
            _ => cell,
        };
        match column {
            Column::Id => {
                if cell.is_empty() || cell.len() > 128 {
                    problem("_id", "an _id must have 1 to 128 characters".into());
                } else if !seen_ids.insert(cell) {
                    problem("_id", format!("_id {cell:?} appears twice in the file"));
                } else {
                    external_id = Some(cell.to_string());
                }
            }
            Column::Weight => match cell.parse::<f64>() {
                Ok(w) if w.is_finite() && w > 0.0 => weight = w,
                Ok(w) => problem("_weight", format!("a weight must be positive, not {w}")),
                Err(_) if cell.is_empty() => problem(
                    "_weight",
                    "the weight is missing (an export leaves it empty where the analysis has no design weight: \
                     give those rows one, or leave them out)"
                        .into(),
                ),
                Err(_) => problem("_weight", format!("{cell:?} is not a number")),
            },
            // Empty in every row (an export of an unstratified sample):
            // no strata; `StratumCheck` refuses a file that mixes both.
            Column::Stratum if cell.is_empty() => {}
            Column::Stratum => stratum = Some(cell.to_string()),
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
            Column::Wave if cell.is_empty() => {}
            Column::Wave => match (cell.parse::<i32>(), rule) {
                (Err(_), _) => problem("_wave", format!("{cell:?} is not a wave (a year such as 2026)")),
                (Ok(w), WaveRule::FromFile) => wave = Some(w),
                (Ok(w), WaveRule::Given(given)) if w != *given => problem(
                    "_wave",
                    format!(
                        "the row is wave {w} but --wave {given} was given; correct the cell, or leave --wave out \
                         to take each row's wave from the file"
                    ),
                ),
                (Ok(w), WaveRule::Batch { wave: batch_wave, name }) if w != *batch_wave => problem(
                    "_wave",
                    format!(
                        "the row is wave {w} but batch {name:?} is wave {batch_wave}; a replacement keeps its \
                         batch's wave (import rows of another wave as a batch of their own)"
                    ),
                ),
                (Ok(_), _) => {}
            },
            Column::Ignored(_) => {}
            Column::Question { id, multi } => {
                if *multi {
                    let cell = crate::spreadsheet::restore_neutralised(cell);
                    for part in cell.split(crate::export::MULTI_SEPARATOR) {
                        raw.push(id, part.trim());
                    }
                } else {
                    // An export's neutralised formula reads back as given.
                    raw.push(id, crate::spreadsheet::restore_neutralised(cell));
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
                wave: wave.unwrap_or(submitted_at.year()),
                lang,
                submitted_at,
                weight,
                stratum,
                cluster,
                choice_codes: survey.choice_codes(&answers),
                answers: long_rows(&answers),
                straightliner: false,
            })
        }
        _ => Err(problems),
    }
}

/// The answers as stored, one row per answer and per chosen option (see
/// `ImportedResponse::answers`).
fn long_rows(answers: &Answers) -> Vec<(&'static str, Cow<'static, str>)> {
    let mut rows = Vec::with_capacity(answers.len());
    for (question, value) in answers.iter() {
        let question = interned(question);
        match value {
            AnswerValue::Choice(v) => rows.push((question, Cow::Borrowed(interned(v.as_str())))),
            AnswerValue::Choices(vs) => rows.extend(vs.iter().map(|v| (question, Cow::Borrowed(interned(v.as_str()))))),
            AnswerValue::Text(t) => rows.push((question, Cow::Owned(t.clone()))),
        }
    }
    rows
}

/// RFC 3339 (`2026-05-01T09:30:00Z`, any offset) or a plain date (midnight UTC).
fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_rows_are_the_stored_values_in_answer_order() {
        // A web submission numbers its answers with `AnswerValue::stored_values`
        // in `Answers::iter` order; an import must number them alike.
        let survey = crate::survey::builtin_definitions().remove(0);
        let mut raw = RawAnswers::default();
        for q in survey.questions.iter().filter(|q| q.required && q.show_if.is_none()) {
            raw.push(q.id.as_str(), q.kind.options()[0].value.as_str());
        }
        raw.push("suggestions", "=a formula, kept as text");
        let answers = survey.validate(&raw).unwrap();
        let expected: Vec<(&str, &str)> = answers
            .iter()
            .flat_map(|(q, v)| v.stored_values().into_iter().map(move |v| (q, v)))
            .collect();
        let rows = long_rows(&answers);
        let got: Vec<(&str, &str)> = rows.iter().map(|(q, v)| (*q, v.as_ref())).collect();
        assert_eq!(got, expected);
        assert!(matches!(
            rows.iter().find(|(q, _)| *q == "suggestions").unwrap().1,
            Cow::Owned(_)
        ));
        assert!(std::ptr::eq(interned("district"), interned(&String::from("district"))));
    }

    fn file_problems(survey: &Survey, csv: &str) -> FileProblems {
        match check_csv(survey, "test.csv", csv.as_bytes(), None, false) {
            Err(ImportError::File(problems)) => problems,
            Err(e) => panic!("not a problem of the file: {e}"),
            Ok(file) => panic!("accepted: {} rows", file.rows.len()),
        }
    }

    /// Found by `fuzz/fuzz_targets/csv_import.rs`: a header of many bad
    /// columns listed every one of them, past the 200 a refusal lists.
    #[test]
    fn header_problems_are_listed_up_to_the_limit_and_all_counted() {
        let survey = crate::survey::builtin_definitions().remove(0);
        let header: Vec<String> = (0..250).map(|i| format!("nope{i}")).collect();
        let problems = file_problems(&survey, &format!("{}\n", header.join(",")));
        assert_eq!(problems.problems.len(), MAX_REPORTED);
        assert_eq!(problems.total, 250);
        assert!(problems.to_string().contains("… and 50 more"), "{problems}");
    }
}
