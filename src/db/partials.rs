//! Partial responses: what a resident has answered so far on the section
//! pages, saved after every page and found again by the keyed hash of a
//! resume code (or, in an invitation wave, of the invitation code).
//!
//! They live in their own table, which no index, export or analysis query
//! reads: a partial response is never counted. It becomes a response only
//! through [`Database::submit_partial`], which stores the response and marks
//! the partial completed in one transaction, and then empties the partial's
//! answers and forgets its invitation, so that nothing ties the stored
//! response to a time or a code (docs/privacy.md). Expired partials are
//! purged on every write; a resident may also delete their own.

use super::responses::{insert_response_in, Inserted, NewResponse, OwnedResponse};
use super::schema::partial_responses as p;
use super::{format_timestamp, parse_timestamp, Backend, Conn, Database, DbError, Submission};
use crate::lang::Lang;
use crate::survey::RawAnswers;
use diesel::prelude::*;
use std::collections::BTreeMap;

/// How a partial response is found: by the keyed hash of its resume code,
/// or by the lookup key of the invitation code it was begun with.
#[derive(Debug, Clone, Copy)]
pub enum PartialKey<'a> {
    Resume(&'a str),
    Invitation(&'a str),
}

/// A partial response as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    pub id: i64,
    pub slug: String,
    pub version: u32,
    pub version_id: i64,
    pub wave: i32,
    pub lang: Lang,
    pub answers: RawAnswers,
    /// The furthest page reached: a section's index, or the number of
    /// sections for the review page.
    pub last_page: usize,
    pub started_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
    pub expires_at: time::OffsetDateTime,
    pub completed: bool,
    pub invitation_lookup: Option<String>,
}

/// A partial response to create.
#[derive(Debug, Clone)]
pub struct NewPartial<'a> {
    /// Keyed hash of the resume code.
    pub resume_key: &'a str,
    pub slug: &'a str,
    pub version_id: i64,
    pub version: u32,
    pub wave: i32,
    pub lang: Lang,
    pub answers: &'a RawAnswers,
    pub last_page: usize,
    pub invitation_lookup: Option<&'a str>,
    pub now: time::OffsetDateTime,
    pub expires_at: time::OffsetDateTime,
}

/// How far the partial responses of a wave got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialCounts {
    /// Every partial response of the wave (completed or not).
    pub started: u64,
    pub completed: u64,
    /// Not completed, by the furthest page reached: (page, count), pages
    /// in order, only those with a count.
    pub stopped_at: Vec<(usize, u64)>,
}

/// Raw answers as JSON: `{"question": ["value", ...]}`.
pub fn answers_to_json(answers: &RawAnswers) -> String {
    let map: BTreeMap<&str, &[String]> = answers.fields().map(|f| (f, answers.values(f))).collect();
    serde_json::to_string(&map).expect("a map of strings serializes")
}

/// The answers of [`answers_to_json`]; anything else reads as no answers.
pub fn answers_from_json(text: &str) -> RawAnswers {
    let map: BTreeMap<String, Vec<String>> = serde_json::from_str(text).unwrap_or_default();
    let mut answers = RawAnswers::default();
    for (field, values) in &map {
        if values.is_empty() {
            answers.push(field, "");
        }
        for value in values {
            answers.push(field, value);
        }
    }
    answers
}

type Row = (
    i64,
    String,
    i32,
    i64,
    i32,
    String,
    String,
    i32,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// The columns of [`Row`], in its order.
type Columns = (
    p::id,
    p::survey_slug,
    p::version,
    p::survey_version_id,
    p::wave,
    p::lang,
    p::answers,
    p::last_page,
    p::started_at,
    p::updated_at,
    p::expires_at,
    p::completed_at,
    p::invitation_lookup,
);

fn columns() -> Columns {
    (
        p::id,
        p::survey_slug,
        p::version,
        p::survey_version_id,
        p::wave,
        p::lang,
        p::answers,
        p::last_page,
        p::started_at,
        p::updated_at,
        p::expires_at,
        p::completed_at,
        p::invitation_lookup,
    )
}

fn from_row(row: Row) -> Partial {
    let (
        id,
        slug,
        version,
        version_id,
        wave,
        lang,
        answers,
        last_page,
        started_at,
        updated_at,
        expires_at,
        completed_at,
        lookup,
    ) = row;
    let epoch = time::OffsetDateTime::UNIX_EPOCH;
    Partial {
        id,
        slug,
        version: version.max(0) as u32,
        version_id,
        wave,
        lang: lang.parse().unwrap_or(Lang::DEFAULT),
        answers: answers_from_json(&answers),
        last_page: last_page.max(0) as usize,
        started_at: parse_timestamp(&started_at).unwrap_or(epoch),
        updated_at: parse_timestamp(&updated_at).unwrap_or(epoch),
        expires_at: parse_timestamp(&expires_at).unwrap_or(epoch),
        completed: completed_at.is_some(),
        invitation_lookup: lookup,
    }
}

/// Delete every partial response whose time is up.
fn purge(conn: &mut Conn, now: time::OffsetDateTime) -> QueryResult<usize> {
    diesel::delete(p::table.filter(p::expires_at.le(format_timestamp(now)))).execute(conn)
}

impl Database {
    /// Store a new partial response (after purging expired ones); its id.
    pub fn create_partial(&self, new: &NewPartial<'_>) -> Result<i64, DbError> {
        self.write_tx(|conn| {
            purge(conn, new.now)?;
            let now = format_timestamp(new.now);
            diesel::insert_into(p::table)
                .values((
                    p::resume_key.eq(new.resume_key),
                    p::survey_slug.eq(new.slug),
                    p::survey_version_id.eq(new.version_id),
                    p::version.eq(new.version as i32),
                    p::wave.eq(new.wave),
                    p::lang.eq(new.lang.code()),
                    p::answers.eq(answers_to_json(new.answers)),
                    p::last_page.eq(new.last_page as i32),
                    p::started_at.eq(&now),
                    p::updated_at.eq(&now),
                    p::expires_at.eq(format_timestamp(new.expires_at)),
                    p::invitation_lookup.eq(new.invitation_lookup),
                ))
                .execute(conn)?;
            let id: i64 = p::table
                .filter(p::resume_key.eq(new.resume_key))
                .select(p::id)
                .first(conn)?;
            Ok(id)
        })
    }

    /// The partial response of `slug` found by `key`, unless it has expired
    /// (completed ones too: the caller decides).
    pub fn find_partial(
        &self,
        slug: &str,
        key: PartialKey<'_>,
        now: time::OffsetDateTime,
    ) -> Result<Option<Partial>, DbError> {
        let query = p::table
            .filter(p::survey_slug.eq(slug))
            .filter(p::expires_at.gt(format_timestamp(now)))
            .select(columns())
            .into_boxed();
        let query = match key {
            PartialKey::Resume(resume_key) => query.filter(p::resume_key.eq(resume_key)),
            PartialKey::Invitation(lookup) => query.filter(p::invitation_lookup.eq(lookup)),
        };
        let row: Option<Row> = query.first(&mut self.conn()?).optional()?;
        Ok(row.map(from_row))
    }

    /// Save the answers of a partial response that is not completed, with
    /// the furthest page reached so far (never lowered) and a new expiry.
    /// False when it is gone, expired or completed.
    pub fn save_partial(
        &self,
        id: i64,
        answers: &RawAnswers,
        reached: usize,
        lang: Lang,
        now: time::OffsetDateTime,
        expires_at: time::OffsetDateTime,
    ) -> Result<bool, DbError> {
        self.write_tx(|conn| {
            purge(conn, now)?;
            let current: Option<i32> = p::table
                .filter(p::id.eq(id))
                .filter(p::completed_at.is_null())
                .select(p::last_page)
                .first(conn)
                .optional()?;
            let Some(current) = current else { return Ok(false) };
            diesel::update(p::table.filter(p::id.eq(id)))
                .set((
                    p::answers.eq(answers_to_json(answers)),
                    p::last_page.eq(current.max(reached as i32)),
                    p::lang.eq(lang.code()),
                    p::updated_at.eq(format_timestamp(now)),
                    p::expires_at.eq(format_timestamp(expires_at)),
                ))
                .execute(conn)?;
            Ok(true)
        })
    }

    /// Give a partial response a new resume key (an invitation code
    /// brought the resident back on another device or browser).
    pub fn rekey_partial(
        &self,
        id: i64,
        resume_key: &str,
        now: time::OffsetDateTime,
        expires_at: time::OffsetDateTime,
    ) -> Result<bool, DbError> {
        self.write_tx(|conn| {
            let n = diesel::update(p::table.filter(p::id.eq(id)).filter(p::completed_at.is_null()))
                .set((
                    p::resume_key.eq(resume_key),
                    p::updated_at.eq(format_timestamp(now)),
                    p::expires_at.eq(format_timestamp(expires_at)),
                ))
                .execute(conn)?;
            Ok(n == 1)
        })
    }

    /// Delete a partial response at its resident's request (the one
    /// deletion besides expiry).
    pub fn delete_partial(&self, id: i64) -> Result<bool, DbError> {
        self.write_tx(|conn| Ok(diesel::delete(p::table.filter(p::id.eq(id))).execute(conn)? == 1))
    }

    /// Delete every partial response that expired by `now`; how many.
    pub fn purge_expired_partials(&self, now: time::OffsetDateTime) -> Result<usize, DbError> {
        self.write_tx(|conn| Ok(purge(conn, now)?))
    }

    /// Store the response of a partial (or of a one-shot form, `partial`
    /// `None`) and mark the partial completed, all in one transaction (on
    /// SQLite, a savepoint of a batch committed together, see
    /// `group_commit`). A partial already completed stores nothing: a
    /// double tap is `Duplicate`. Any partial begun with the same
    /// invitation is completed too. A completed partial keeps only its
    /// dates and how far it got: its answers and invitation are dropped.
    pub fn submit_partial(&self, partial: Option<i64>, new: &NewResponse<'_>) -> Result<Inserted, DbError> {
        let mut new = new.clone();
        new.submitted_at = super::responses::stored_time(new.how, new.submitted_at);
        let new = &new;
        match (self.backend(), new.how) {
            // An invitation is used under its row's lock: PostgreSQL runs
            // those side by side, as any other write.
            (Backend::Postgres, Submission::Invited(_)) => self.write_tx(|conn| submit_partial_in(conn, partial, new)),
            _ => self.group_commit().submit(partial, OwnedResponse::of(new)),
        }
    }

    /// Started, completed, and where the others stopped, for one wave.
    pub fn partial_counts(&self, slug: &str, wave: i32) -> Result<PartialCounts, DbError> {
        let mut conn = self.conn()?;
        let wave_rows = || p::table.filter(p::survey_slug.eq(slug)).filter(p::wave.eq(wave));
        let started: i64 = wave_rows().count().get_result(&mut conn)?;
        let stopped: Vec<(i32, i64)> = wave_rows()
            .filter(p::completed_at.is_null())
            .group_by(p::last_page)
            .select((p::last_page, diesel::dsl::count_star()))
            .order(p::last_page)
            .load(&mut conn)?;
        let open: i64 = stopped.iter().map(|(_, n)| n).sum();
        Ok(PartialCounts {
            started: started as u64,
            completed: (started - open).max(0) as u64,
            stopped_at: stopped
                .into_iter()
                .map(|(page, n)| (page.max(0) as usize, n as u64))
                .collect(),
        })
    }
}

/// `Database::submit_partial` inside the transaction (or savepoint) it runs in.
pub(super) fn submit_partial_in(
    conn: &mut Conn,
    partial: Option<i64>,
    new: &NewResponse<'_>,
) -> Result<Inserted, DbError> {
    if let Some(id) = partial {
        // Locked on PostgreSQL, where another writer may be completing the
        // same saved answers: it is read again once that one commits.
        // SQLite's write transaction already excludes every other writer.
        let query = p::table.filter(p::id.eq(id)).select(p::completed_at);
        let completed: Option<Option<String>> = match conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => query.first(c).optional()?,
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => query.for_update().first(c).optional()?,
        };
        if matches!(completed, Some(Some(_))) {
            return Ok(Inserted::Duplicate);
        }
    }
    let inserted = insert_response_in(conn, new)?;
    if matches!(inserted, Inserted::New(_)) {
        let lookup = match new.how {
            Submission::Invited(invited) => Some(invited.lookup),
            Submission::Web { .. } => None,
        };
        let done = p::table
            .filter(p::completed_at.is_null())
            .filter(p::id.eq(partial.unwrap_or(-1)).or(p::invitation_lookup.eq(lookup)));
        let now = format_timestamp(new.submitted_at);
        diesel::update(done)
            .set((
                p::completed_at.eq(&now),
                p::updated_at.eq(&now),
                p::answers.eq("{}"),
                p::invitation_lookup.eq(None::<String>),
            ))
            .execute(conn)?;
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_survive_json_including_unchecked_boxes() {
        let mut raw = RawAnswers::default();
        raw.push("district", "huancui");
        raw.push("issues", "a");
        raw.push("issues", "b");
        raw.push("suggestions", "多建公园 \"quoted\"");
        raw.push("cleared", "");
        let back = answers_from_json(&answers_to_json(&raw));
        assert_eq!(back, raw);
        assert_eq!(answers_from_json("not json"), RawAnswers::default());
    }
}
