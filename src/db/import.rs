//! Imports as batches (`civicpulse import`). Every import is one batch: the
//! rows of one file in one wave, under a name unique in that wave, so that
//! a corrected file can replace exactly what an earlier one added and a
//! wrong one can be taken out, without touching the rest of the wave.
//!
//! Rows arrive one by one from a streamed file and are written in chunks,
//! all in one transaction with the batch row and its audit entry, so that a
//! bad row anywhere leaves the database untouched. The batch row is written
//! with the first row that is new: an import that adds nothing leaves no
//! batch behind.

use super::accounts::audit;
use super::connection::on_backend;
use super::responses::{flag, reserve_ordered_ids};
use super::schema::{answers, import_batches, responses};
use super::{format_timestamp, lock_key, Conn, Database, DbError};
use crate::fieldwork::{Flag, Source};
use crate::lang::Lang;
use diesel::prelude::*;
use std::borrow::Cow;
use std::collections::HashSet;

/// Responses buffered before they are written (a few MiB).
const BATCH: usize = 2000;

/// Insert `$rows` (a slice of insertable tuples) into `$table` with
/// multi-row statements of the given sizes, largest first, the last 1.
/// Diesel caches a prepared statement only when its row count is part of
/// its type (an array, not a `Vec`), so each size is prepared once per
/// import and then only bound and stepped: parsing an 8,000-row INSERT for
/// every chunk cost a third of an import's time.
macro_rules! insert_in_fixed_sizes {
    ($conn:expr, $table:expr, $rows:expr, [$($size:literal),+]) => {{
        let mut rest = $rows;
        $(
            while rest.len() >= $size {
                let (chunk, tail) = rest.split_at($size);
                let chunk: &[_; $size] = chunk.try_into().expect("split at its size");
                let insert = diesel::insert_into($table).values(chunk);
                on_backend!(&mut *$conn, c => insert.execute(c))?;
                rest = tail;
            }
        )+
        debug_assert!(rest.is_empty());
    }};
}

/// The one `'static` copy of a question id or an option value: the rows
/// of a prepared insert must own or borrow for `'static` (see
/// `insert_in_fixed_sizes!`), and a million responses' answers should not
/// cost two allocations each. Each distinct text is leaked once per
/// process, so the memory is bounded by the definitions' ids and values,
/// never by the rows imported.
pub fn interned(text: &str) -> &'static str {
    static SEEN: std::sync::OnceLock<std::sync::Mutex<HashSet<&'static str>>> = std::sync::OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&known) = seen.get(text) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    seen.insert(leaked);
    leaked
}

/// How many skipped `_id`s are kept to be shown; the count covers them all.
pub const SKIPPED_IDS_KEPT: usize = 10;

/// One row of an import file, validated.
#[derive(Debug, Clone)]
pub struct ImportedResponse {
    pub external_id: Option<String>,
    pub wave: i32,
    pub lang: Lang,
    pub submitted_at: time::OffsetDateTime,
    pub weight: f64,
    pub stratum: Option<String>,
    pub cluster: Option<String>,
    /// The answers in long format, one (question, value) row per answer
    /// and per chosen option of a multi-choice question, in the order of
    /// `Answers::iter` and `AnswerValue::stored_values`. Made while the
    /// file is read; question ids and option values are `'static`
    /// ([`interned`]), so writing allocates nothing but for text answers.
    pub answers: Vec<(&'static str, Cow<'static, str>)>,
    pub choice_codes: Vec<u8>,
    /// Decided from the answers (`fieldwork::quality`).
    pub straightliner: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub added: u64,
    /// Rows whose `_id` is already stored in their wave: not added again.
    pub skipped: u64,
    /// The first [`SKIPPED_IDS_KEPT`] of them.
    pub skipped_ids: Vec<String>,
}

/// One import of one file into one wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportBatch {
    pub id: i64,
    pub slug: String,
    pub wave: i32,
    /// Unique within its wave: `--name`, or the file's name without its extension.
    pub name: String,
    /// The file as named when it was imported; `None` for the batches the
    /// migration made of imports older than batches (`before-batches`).
    pub file: Option<String>,
    /// Responses in the batch.
    pub rows: u64,
    /// Its clusters are numbered within strata (`--nest`).
    pub nested: bool,
    pub created_at: String,
    pub created_by: String,
}

/// A cluster label already stored in a wave, with its stratum and the
/// batch that brought it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCluster {
    pub cluster: String,
    pub stratum: Option<String>,
    pub batch: Option<String>,
}

/// What an import is written as.
#[derive(Debug, Clone, Copy)]
pub struct BatchSpec<'a> {
    pub slug: &'a str,
    /// The survey version the rows answer.
    pub version_id: i64,
    pub name: &'a str,
    pub file: &'a str,
    pub nested: bool,
    /// Who imports, for the batch and the audit log.
    pub actor: &'a str,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The batch as stored at the end; `None` when nothing was added.
    pub batch: Option<ImportBatch>,
    pub counts: ImportCounts,
    /// For a replacement: how many responses the batch held before.
    pub replaced: Option<u64>,
}

/// The batch the rows of an import go into.
#[derive(Debug, Clone, Copy)]
struct Target {
    id: i64,
    wave: i32,
}

/// Receives the rows of one import inside its transaction.
pub struct Importer<'c> {
    conn: &'c mut Conn,
    spec: BatchSpec<'c>,
    /// Created with the first new row, or the batch being replaced.
    target: Option<Target>,
    /// The batch being replaced: its rows are gone already, and its clusters
    /// no longer count.
    replacing: Option<i64>,
    buffer: Vec<ImportedResponse>,
    counts: ImportCounts,
}

type BatchRow = (i64, String, i32, String, Option<String>, i64, bool, String, String);

const BATCH_COLUMNS: (
    import_batches::id,
    import_batches::survey_slug,
    import_batches::wave,
    import_batches::name,
    import_batches::file,
    import_batches::rows,
    import_batches::nested,
    import_batches::created_at,
    import_batches::created_by,
) = (
    import_batches::id,
    import_batches::survey_slug,
    import_batches::wave,
    import_batches::name,
    import_batches::file,
    import_batches::rows,
    import_batches::nested,
    import_batches::created_at,
    import_batches::created_by,
);

fn batch_from_row((id, slug, wave, name, file, rows, nested, created_at, created_by): BatchRow) -> ImportBatch {
    ImportBatch {
        id,
        slug,
        wave,
        name,
        file,
        rows: rows.max(0) as u64,
        nested,
        created_at,
        created_by,
    }
}

fn load_batch(conn: &mut Conn, slug: &str, id: i64) -> Result<ImportBatch, DbError> {
    let row: Option<BatchRow> = import_batches::table
        .filter(import_batches::id.eq(id))
        .filter(import_batches::survey_slug.eq(slug))
        .select(BATCH_COLUMNS)
        .first(conn)
        .optional()?;
    row.map(batch_from_row).ok_or_else(|| DbError::NoImportBatch {
        slug: slug.to_string(),
        id,
    })
}

/// Cluster labels of a wave's responses, but for those of batch `except`.
fn stored_clusters(conn: &mut Conn, slug: &str, wave: i32, except: Option<i64>) -> Result<Vec<StoredCluster>, DbError> {
    let query = responses::table
        .left_join(import_batches::table)
        .filter(responses::survey_slug.eq(slug))
        .filter(responses::wave.eq(wave))
        .filter(responses::cluster.is_not_null())
        .select((
            responses::cluster.assume_not_null(),
            responses::stratum,
            import_batches::name.nullable(),
        ))
        .distinct();
    let rows: Vec<(String, Option<String>, Option<String>)> = match except {
        Some(id) => query
            .filter(
                responses::import_batch_id
                    .is_null()
                    .or(responses::import_batch_id.ne(id)),
            )
            .load(conn)?,
        None => query.load(conn)?,
    };
    Ok(rows
        .into_iter()
        .map(|(cluster, stratum, batch)| StoredCluster {
            cluster,
            stratum,
            batch,
        })
        .collect())
}

impl Importer<'_> {
    pub fn add(&mut self, row: ImportedResponse) -> Result<(), DbError> {
        self.buffer.push(row);
        if self.buffer.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Write what is buffered; the counts are final once every row was added.
    pub fn finish(&mut self) -> Result<&ImportCounts, DbError> {
        self.flush()?;
        Ok(&self.counts)
    }

    /// The cluster labels already stored in `wave`, but for those of the
    /// batch being replaced.
    pub fn stored_clusters(&mut self, wave: i32) -> Result<Vec<StoredCluster>, DbError> {
        stored_clusters(self.conn, self.spec.slug, wave, self.replacing)
    }

    /// The batch to write into, created on first use. Its name must be new
    /// in its wave.
    fn target(&mut self, wave: i32) -> Result<Target, DbError> {
        if let Some(target) = self.target {
            debug_assert_eq!(target.wave, wave, "the rows of one import share one wave");
            return Ok(target);
        }
        let spec = self.spec;
        let taken: i64 = import_batches::table
            .filter(import_batches::survey_slug.eq(spec.slug))
            .filter(import_batches::wave.eq(wave))
            .filter(import_batches::name.eq(spec.name))
            .count()
            .get_result(self.conn)?;
        if taken > 0 {
            return Err(DbError::ImportNameInUse {
                slug: spec.slug.to_string(),
                wave,
                name: spec.name.to_string(),
            });
        }
        let id = diesel::insert_into(import_batches::table)
            .values((
                import_batches::survey_slug.eq(spec.slug),
                import_batches::wave.eq(wave),
                import_batches::name.eq(spec.name),
                import_batches::file.eq(spec.file),
                import_batches::rows.eq(0i64),
                import_batches::nested.eq(spec.nested),
                import_batches::created_at.eq(format_timestamp(time::OffsetDateTime::now_utc())),
                import_batches::created_by.eq(spec.actor),
            ))
            .returning(import_batches::id)
            .get_result(self.conn)?;
        let target = Target { id, wave };
        self.target = Some(target);
        Ok(target)
    }

    fn flush(&mut self) -> Result<(), DbError> {
        let Some(wave) = self.buffer.first().map(|r| r.wave) else {
            return Ok(());
        };
        let rows = std::mem::take(&mut self.buffer);
        let ids: Vec<&str> = rows.iter().filter_map(|r| r.external_id.as_deref()).collect();
        let existing: HashSet<String> = if ids.is_empty() {
            HashSet::new()
        } else {
            already_imported(self.conn, self.spec.slug, wave, &ids)?
        };
        let (fresh, old): (Vec<ImportedResponse>, Vec<ImportedResponse>) = rows
            .into_iter()
            .partition(|r| r.external_id.as_ref().is_none_or(|id| !existing.contains(id)));
        self.counts.skipped += old.len() as u64;
        let room = SKIPPED_IDS_KEPT.saturating_sub(self.counts.skipped_ids.len());
        self.counts
            .skipped_ids
            .extend(old.into_iter().filter_map(|r| r.external_id).take(room));
        if fresh.is_empty() {
            return Ok(());
        }
        let batch_id = self.target(wave)?.id;
        let ids = reserve_ordered_ids(self.conn, fresh.len())?;
        let added = fresh.len() as u64;
        let straightliners: Vec<i64> = ids
            .iter()
            .copied()
            .zip(&fresh)
            .filter(|(_, r)| r.straightliner)
            .map(|(id, _)| id)
            .collect();
        // The rows own their values, moved out of the responses: a
        // statement is cached only when its type is 'static (see
        // `insert_in_fixed_sizes!`).
        let mut answer_rows = Vec::with_capacity(fresh.iter().map(|r| r.answers.len()).sum());
        let values: Vec<_> = ids
            .into_iter()
            .zip(fresh)
            .map(|(id, r)| {
                answer_rows.extend(r.answers.into_iter().enumerate().map(|(position, (q, v))| {
                    (
                        answers::response_id.eq(id),
                        answers::position.eq(position as i32),
                        answers::question_id.eq(q),
                        answers::value.eq(v),
                    )
                }));
                (
                    responses::id.eq(id),
                    responses::survey_version_id.eq(self.spec.version_id),
                    responses::survey_slug.eq(interned(self.spec.slug)),
                    responses::wave.eq(r.wave),
                    responses::lang.eq(r.lang.code()),
                    responses::submitted_at.eq(format_timestamp(r.submitted_at)),
                    responses::source.eq(Source::Import.as_str()),
                    responses::external_id.eq(r.external_id),
                    responses::weight.eq(r.weight),
                    responses::stratum.eq(r.stratum),
                    responses::cluster.eq(r.cluster),
                    responses::choice_codes.eq(r.choice_codes),
                    responses::import_batch_id.eq(batch_id),
                )
            })
            .collect();
        insert_in_fixed_sizes!(self.conn, responses::table, &values[..], [256, 32, 4, 1]);
        drop(values);
        insert_in_fixed_sizes!(self.conn, answers::table, &answer_rows[..], [1024, 128, 16, 1]);
        if !straightliners.is_empty() {
            flag(self.conn, &straightliners, Flag::Straightliner)?;
        }
        self.counts.added += added;
        Ok(())
    }
}

/// Which of `ids` the wave already holds. On PostgreSQL the ids are
/// joined from an array rather than listed: with no statistics on a table
/// filled inside the import's own transaction, the planner estimates a
/// 2,000-value `IN` list to match every row and scans the whole table for
/// each chunk, which made a 1,000,000-row import quadratic (unfinished
/// after 10 minutes); a join on the unique key is planned as one index
/// lookup per id whatever the statistics say.
fn already_imported(conn: &mut Conn, slug: &str, wave: i32, ids: &[&str]) -> Result<HashSet<String>, DbError> {
    match conn {
        #[cfg(feature = "postgres")]
        Conn::Postgres(c) => {
            use diesel::sql_types::{Array, Integer, Text};
            #[derive(QueryableByName)]
            struct Found {
                #[diesel(sql_type = Text)]
                external_id: String,
            }
            let found: Vec<Found> = diesel::sql_query(
                "SELECT r.external_id FROM unnest($3::text[]) AS t(id) \
                 JOIN responses r ON r.survey_slug = $1 AND r.wave = $2 AND r.external_id = t.id",
            )
            .bind::<Text, _>(slug)
            .bind::<Integer, _>(wave)
            .bind::<Array<Text>, _>(ids)
            .load(c)?;
            Ok(found.into_iter().map(|f| f.external_id).collect())
        }
        #[allow(unreachable_patterns)]
        conn => Ok(responses::table
            .filter(responses::survey_slug.eq(slug))
            .filter(responses::wave.eq(wave))
            .filter(responses::external_id.eq_any(ids))
            .select(responses::external_id.assume_not_null())
            .load::<String>(conn)?
            .into_iter()
            .collect()),
    }
}

impl Database {
    /// Import into a new batch: run `fill` in one transaction, handing it
    /// an `Importer`. The batch is created with the first new row, named
    /// `spec.name`, which must be new in the rows' wave; an `import.add`
    /// audit entry is written with it. When `fill` returns an error, every
    /// row it added is rolled back and its error is returned.
    pub fn import_batch<T, E: From<DbError>>(
        &self,
        spec: &BatchSpec<'_>,
        fill: impl FnOnce(&mut Importer<'_>) -> Result<T, E>,
    ) -> Result<(T, ImportReport), E> {
        self.run_import(spec, None, fill)
    }

    /// Replace batch `id` of `spec.slug`: in one transaction its responses
    /// go (their answers and flags with them), then `fill` adds the new
    /// rows to the same batch, which keeps its id, name and wave and takes
    /// `spec.file` and `spec.nested`; audited as `import.replace`. The rows
    /// must be of the batch's wave. When `fill` returns an error, nothing
    /// has changed.
    pub fn replace_import_batch<T, E: From<DbError>>(
        &self,
        id: i64,
        spec: &BatchSpec<'_>,
        fill: impl FnOnce(&mut Importer<'_>) -> Result<T, E>,
    ) -> Result<(T, ImportReport), E> {
        self.run_import(spec, Some(id), fill)
    }

    fn run_import<T, E: From<DbError>>(
        &self,
        spec: &BatchSpec<'_>,
        replacing: Option<i64>,
        fill: impl FnOnce(&mut Importer<'_>) -> Result<T, E>,
    ) -> Result<(T, ImportReport), E> {
        let mut failure: Option<E> = None;
        let result = self.write_tx(|conn| {
            // A page cache of 32 MiB instead of 2: the unique index on
            // `_id`s takes them in no particular order, and with a small cache
            // its pages are written out to the WAL and read back again and
            // again during a long import. Bounded, so memory stays constant;
            // the connection keeps it (only the command line imports).
            #[cfg(feature = "sqlite")]
            if let Conn::Sqlite(c) = conn {
                diesel::connection::SimpleConnection::batch_execute(c, "PRAGMA cache_size = -32768")?;
            }
            // PostgreSQL: one import of a survey at a time, as on SQLite,
            // so that `_id`s already stored are seen by the next import.
            lock_key(conn, &format!("import {}", spec.slug))?;
            let (target, replaced) = match replacing {
                Some(id) => {
                    let old = load_batch(conn, spec.slug, id)?;
                    let removed =
                        diesel::delete(responses::table.filter(responses::import_batch_id.eq(id))).execute(conn)?;
                    (Some(Target { id, wave: old.wave }), Some(removed as u64))
                }
                None => (None, None),
            };
            let mut importer = Importer {
                conn,
                spec: *spec,
                target,
                replacing,
                buffer: Vec::new(),
                counts: ImportCounts::default(),
            };
            let value = match fill(&mut importer) {
                Ok(value) => value,
                Err(e) => {
                    failure = Some(e);
                    return Err(DbError::ImportAbandoned);
                }
            };
            importer.flush()?;
            let Importer {
                conn, target, counts, ..
            } = importer;
            let batch = match target {
                None => None,
                Some(target) => {
                    diesel::update(import_batches::table.filter(import_batches::id.eq(target.id)))
                        .set((
                            import_batches::rows.eq(counts.added as i64),
                            import_batches::file.eq(spec.file),
                            import_batches::nested.eq(spec.nested),
                        ))
                        .execute(conn)?;
                    let batch = load_batch(conn, spec.slug, target.id)?;
                    let skipped = match counts.skipped {
                        0 => String::new(),
                        n => format!(", {n} skipped (already in the wave)"),
                    };
                    let (action, detail) = match replaced {
                        None => (
                            "import.add",
                            format!(
                                "{} wave {} batch {:?} (id {}) from {}: {} added{skipped}",
                                spec.slug, batch.wave, batch.name, batch.id, spec.file, counts.added
                            ),
                        ),
                        Some(old) => (
                            "import.replace",
                            format!(
                                "{} wave {} batch {:?} (id {}) from {}: {old} rows replaced by {}{skipped}",
                                spec.slug, batch.wave, batch.name, batch.id, spec.file, counts.added
                            ),
                        ),
                    };
                    audit(conn, spec.actor, action, &detail)?;
                    Some(batch)
                }
            };
            Ok((
                value,
                ImportReport {
                    batch,
                    counts,
                    replaced,
                },
            ))
        });
        match (result, failure) {
            (Ok(done), _) => Ok(done),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(e.into()),
        }
    }

    /// The import batches of a survey (of one wave, if given), oldest first.
    pub fn import_batches(&self, slug: &str, wave: Option<i32>) -> Result<Vec<ImportBatch>, DbError> {
        let mut query = import_batches::table
            .filter(import_batches::survey_slug.eq(slug))
            .select(BATCH_COLUMNS)
            .order(import_batches::id)
            .into_boxed();
        if let Some(wave) = wave {
            query = query.filter(import_batches::wave.eq(wave));
        }
        let rows: Vec<BatchRow> = query.load(&mut self.conn()?)?;
        Ok(rows.into_iter().map(batch_from_row).collect())
    }

    /// The cluster labels stored in a wave, but for those of batch `except`.
    pub fn stored_clusters(&self, slug: &str, wave: i32, except: Option<i64>) -> Result<Vec<StoredCluster>, DbError> {
        stored_clusters(&mut *self.conn()?, slug, wave, except)
    }

    /// Delete batch `id` of `slug` and its responses (their answers and
    /// flags with them) in one transaction, audited as `import.delete`.
    /// Returns the batch as it was and how many responses went.
    pub fn delete_import_batch(&self, slug: &str, id: i64, actor: &str) -> Result<(ImportBatch, u64), DbError> {
        self.write_tx(|conn| {
            let batch = load_batch(conn, slug, id)?;
            let removed =
                diesel::delete(responses::table.filter(responses::import_batch_id.eq(id))).execute(conn)? as u64;
            diesel::delete(import_batches::table.filter(import_batches::id.eq(id))).execute(conn)?;
            audit(
                conn,
                actor,
                "import.delete",
                &format!(
                    "{slug} wave {} batch {:?} (id {id}): {removed} rows deleted",
                    batch.wave, batch.name
                ),
            )?;
            Ok((batch, removed))
        })
    }
}
