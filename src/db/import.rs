//! Bulk writes for `civicpulse import`: rows arrive one by one from a
//! streamed file, are written in batches, and all of it happens in one
//! transaction so that a bad row anywhere leaves the database untouched.

use super::responses::{answer_rows, flag, next_ordered_id};
use super::schema::{answers, responses};
use super::{format_timestamp, Conn, Database, DbError};
use crate::fieldwork::{Flag, Source};
use crate::lang::Lang;
use crate::survey::Answers;
use diesel::prelude::*;
use std::collections::HashSet;

/// Responses per INSERT batch. Answers of a batch are split further to stay
/// under SQLite's limit of bound parameters per statement.
const BATCH: usize = 500;
const ANSWER_ROWS_PER_STATEMENT: usize = 8_000;

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
    pub answers: Answers,
    pub choice_codes: Vec<u8>,
    /// Decided from the answers (`fieldwork::quality`).
    pub straightliner: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub added: usize,
    /// Rows whose `_id` was imported before: re-importing adds nothing.
    pub skipped: usize,
}

/// Receives the rows of one import inside its transaction.
pub struct Importer<'c> {
    conn: &'c mut Conn,
    version_id: i64,
    slug: &'c str,
    buffer: Vec<ImportedResponse>,
    counts: ImportCounts,
}

impl Importer<'_> {
    pub fn add(&mut self, row: ImportedResponse) -> Result<(), DbError> {
        self.buffer.push(row);
        if self.buffer.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DbError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.buffer);
        let ids: Vec<&str> = rows.iter().filter_map(|r| r.external_id.as_deref()).collect();
        let existing: HashSet<String> = if ids.is_empty() {
            HashSet::new()
        } else {
            responses::table
                .filter(responses::survey_slug.eq(self.slug))
                .filter(responses::external_id.eq_any(&ids))
                .select(responses::external_id.assume_not_null())
                .load::<String>(self.conn)?
                .into_iter()
                .collect()
        };
        let fresh: Vec<&ImportedResponse> = rows
            .iter()
            .filter(|r| r.external_id.as_ref().is_none_or(|id| !existing.contains(id)))
            .collect();
        self.counts.skipped += rows.len() - fresh.len();
        if fresh.is_empty() {
            return Ok(());
        }
        let submitted: Vec<String> = fresh.iter().map(|r| format_timestamp(r.submitted_at)).collect();
        let first_id = next_ordered_id(self.conn)?;
        let new_ids: Vec<i64> = (first_id..).take(fresh.len()).collect();
        let values: Vec<_> = fresh
            .iter()
            .zip(&submitted)
            .zip(&new_ids)
            .map(|((r, at), &id)| {
                (
                    responses::id.eq(id),
                    responses::survey_version_id.eq(self.version_id),
                    responses::survey_slug.eq(self.slug),
                    responses::wave.eq(r.wave),
                    responses::lang.eq(r.lang.code()),
                    responses::submitted_at.eq(at.as_str()),
                    responses::source.eq(Source::Import.as_str()),
                    responses::external_id.eq(r.external_id.as_deref()),
                    responses::weight.eq(r.weight),
                    responses::stratum.eq(r.stratum.as_deref()),
                    responses::cluster.eq(r.cluster.as_deref()),
                    responses::choice_codes.eq(r.choice_codes.as_slice()),
                )
            })
            .collect();
        diesel::insert_into(responses::table)
            .values(&values)
            .execute(self.conn)?;
        let answer_rows: Vec<_> = fresh
            .iter()
            .zip(&new_ids)
            .flat_map(|(r, &id)| {
                answer_rows(&r.answers).map(move |(position, q, v)| {
                    (
                        answers::response_id.eq(id),
                        answers::position.eq(position as i32),
                        answers::question_id.eq(q),
                        answers::value.eq(v),
                    )
                })
            })
            .collect();
        for chunk in answer_rows.chunks(ANSWER_ROWS_PER_STATEMENT) {
            diesel::insert_into(answers::table).values(chunk).execute(self.conn)?;
        }
        let straightliners: Vec<i64> = fresh
            .iter()
            .zip(&new_ids)
            .filter(|(r, _)| r.straightliner)
            .map(|(_, &id)| id)
            .collect();
        if !straightliners.is_empty() {
            flag(self.conn, &straightliners, Flag::Straightliner)?;
        }
        self.counts.added += fresh.len();
        Ok(())
    }
}

impl Database {
    /// Run `fill` in one transaction, handing it an `Importer`. When `fill`
    /// returns an error, every row it added is rolled back and its error
    /// is returned.
    pub fn import<T, E: From<DbError>>(
        &self,
        version_id: i64,
        slug: &str,
        fill: impl FnOnce(&mut Importer<'_>) -> Result<T, E>,
    ) -> Result<(T, ImportCounts), E> {
        let mut failure: Option<E> = None;
        let result = self.write_tx(|conn| {
            let mut importer = Importer {
                conn,
                version_id,
                slug,
                buffer: Vec::new(),
                counts: ImportCounts::default(),
            };
            match fill(&mut importer) {
                Ok(value) => {
                    importer.flush()?;
                    Ok((value, importer.counts))
                }
                Err(e) => {
                    failure = Some(e);
                    Err(DbError::ImportAbandoned)
                }
            }
        });
        match (result, failure) {
            (Ok(done), _) => Ok(done),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(e.into()),
        }
    }
}
