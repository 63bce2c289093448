//! Storing and reading responses: web and invited submissions one at a
//! time, their data-quality flags, and every response for export.
//!
//! An invited response is stored so that nothing leads back to its code
//! (docs/privacy.md): its id is random, so row order says nothing about
//! when it came; its time is the day only; it keeps no form token; and the
//! invitation is marked used in the same transaction with no time at all.
//! Every other response gets the next id of the low range, so no invited
//! response's id ever shows up as a neighbour of a timestamped one.

use super::connection::{load_streaming, on_backend};
use super::fieldwork::{invitation_use, mark_used, InvitationUse};
use super::schema::{answers, response_flags, responses, survey_versions};
use super::{format_timestamp, Backend, Conn, Database, DbError, VersionStatus};
use crate::fieldwork::quality::{BURST_SIZE, BURST_WINDOW};
use crate::fieldwork::{Flag, Flags, Source};
use crate::lang::Lang;
use crate::survey::Answers;
use diesel::prelude::*;
use rand::Rng;

/// Ids below this are handed out in order (web and imported responses);
/// invited responses draw theirs at random from above it.
pub(super) const RANDOM_IDS_FROM: i64 = 1 << 62;

/// A response ready to be written.
#[derive(Debug, Clone)]
pub struct NewResponse<'a> {
    pub version_id: i64,
    pub slug: &'a str,
    /// The survey's current wave: web responses go into it, and an
    /// invitation must belong to it.
    pub wave: i32,
    pub lang: Lang,
    pub submitted_at: time::OffsetDateTime,
    /// From the form's issue to its submission.
    pub duration_seconds: Option<u32>,
    pub answers: &'a Answers,
    /// `Survey::choice_codes` of the answers.
    pub choice_codes: &'a [u8],
    /// Decided from the answers alone (`fieldwork::quality`).
    pub straightliner: bool,
    pub how: Submission<'a>,
}

/// Which way a response comes in, with what makes a second submission of
/// the same form harmless.
#[derive(Debug, Clone, Copy)]
pub enum Submission<'a> {
    /// The open link; the form token is stored, and unique.
    Web {
        form_token: &'a str,
    },
    Invited(InvitedSubmission<'a>),
}

/// An invited submission: the code's lookup key, and a keyed hash of the
/// form (kept with the invitation, never with the response).
#[derive(Debug, Clone, Copy)]
pub struct InvitedSubmission<'a> {
    pub lookup: &'a str,
    pub form_mark: &'a str,
}

/// A [`NewResponse`] that owns what it is made of, for the thread that
/// stores it (the group-commit writer, see `group_commit`).
pub(super) struct OwnedResponse {
    version_id: i64,
    slug: String,
    wave: i32,
    lang: Lang,
    submitted_at: time::OffsetDateTime,
    duration_seconds: Option<u32>,
    answers: Answers,
    choice_codes: Vec<u8>,
    straightliner: bool,
    how: OwnedSubmission,
}

enum OwnedSubmission {
    Web { form_token: String },
    Invited { lookup: String, form_mark: String },
}

impl OwnedResponse {
    pub(super) fn of(new: &NewResponse<'_>) -> OwnedResponse {
        OwnedResponse {
            version_id: new.version_id,
            slug: new.slug.to_string(),
            wave: new.wave,
            lang: new.lang,
            submitted_at: new.submitted_at,
            duration_seconds: new.duration_seconds,
            answers: new.answers.clone(),
            choice_codes: new.choice_codes.to_vec(),
            straightliner: new.straightliner,
            how: match new.how {
                Submission::Web { form_token } => OwnedSubmission::Web {
                    form_token: form_token.to_string(),
                },
                Submission::Invited(invited) => OwnedSubmission::Invited {
                    lookup: invited.lookup.to_string(),
                    form_mark: invited.form_mark.to_string(),
                },
            },
        }
    }

    pub(super) fn as_new(&self) -> NewResponse<'_> {
        NewResponse {
            version_id: self.version_id,
            slug: &self.slug,
            wave: self.wave,
            lang: self.lang,
            submitted_at: self.submitted_at,
            duration_seconds: self.duration_seconds,
            answers: &self.answers,
            choice_codes: &self.choice_codes,
            straightliner: self.straightliner,
            how: match &self.how {
                OwnedSubmission::Web { form_token } => Submission::Web { form_token },
                OwnedSubmission::Invited { lookup, form_mark } => {
                    Submission::Invited(InvitedSubmission { lookup, form_mark })
                }
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    New(i64),
    /// The same form was already stored (double tap or reload).
    Duplicate,
    /// The invitation code cannot be used (nothing was stored).
    Refused(InvitationUse),
}

/// A response as exported: answers in long format, in answer order, with
/// what its design columns and data-quality flags are made of.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub id: String,
    pub version: u32,
    pub wave: i32,
    pub lang: String,
    pub submitted_at: String,
    pub source: String,
    /// The stored weight: an import's `_weight`, 1 for every other response
    /// (their design weights come from the sampling frame, docs/statistics.md §3.3).
    pub weight: f64,
    /// Import: `_stratum`; invited: the invitation's stratum.
    pub stratum: Option<String>,
    /// Import: `_cluster`.
    pub cluster: Option<String>,
    /// Web and invited: from the form's issue to its submission.
    pub duration_seconds: Option<u32>,
    /// Import: the batch the response came in.
    pub import_batch: Option<i64>,
    /// The flags stored with the response (the speeder flag is derived, never stored).
    pub flags: Flags,
    pub answers: Vec<(String, String)>,
}

/// `count` unused ids of the ordered range, in increasing order. SQLite:
/// the largest plus one onwards (its writers never overlap). PostgreSQL:
/// from the sequence `response_ids`, which concurrent writers share
/// without waiting for each other's commits.
pub(super) fn reserve_ordered_ids(conn: &mut Conn, count: usize) -> QueryResult<Vec<i64>> {
    match conn {
        #[cfg(feature = "sqlite")]
        Conn::Sqlite(_) => {
            let max: Option<i64> = responses::table
                .filter(responses::id.lt(RANDOM_IDS_FROM))
                .select(diesel::dsl::max(responses::id))
                .first(conn)?;
            let first = max.unwrap_or(0) + 1;
            Ok((first..first + count as i64).collect())
        }
        #[cfg(feature = "postgres")]
        Conn::Postgres(c) => {
            #[derive(QueryableByName)]
            struct Id {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                id: i64,
            }
            let ids: Vec<Id> =
                diesel::sql_query("SELECT nextval('response_ids') AS id FROM generate_series(1, $1) ORDER BY 1")
                    .bind::<diesel::sql_types::BigInt, _>(count as i64)
                    .load(c)?;
            Ok(ids.into_iter().map(|i| i.id).collect())
        }
    }
}

/// The submission time as stored: an open-link response's to the minute
/// (the burst check, over 10 minutes, needs no more, and a time to the
/// second would match a line of a proxy's access log, docs/privacy.md);
/// an invited response keeps only its day (`day_of`, where it is stored).
pub(super) fn stored_time(how: Submission<'_>, t: time::OffsetDateTime) -> time::OffsetDateTime {
    match how {
        Submission::Web { .. } => t.replace_second(0).and_then(|m| m.replace_nanosecond(0)).unwrap_or(t),
        Submission::Invited(_) => t,
    }
}

/// The start of a day, the only time kept of an invited response.
fn day_of(t: time::OffsetDateTime) -> time::OffsetDateTime {
    t.to_offset(time::UtcOffset::UTC).replace_time(time::Time::MIDNIGHT)
}

/// Answers in long format: one row per answer (per chosen option for
/// multi-choice), numbered in answer order.
pub(super) fn answer_rows(answers: &Answers) -> impl Iterator<Item = (usize, &str, &str)> {
    answers
        .iter()
        .flat_map(|(question, value)| value.stored_values().into_iter().map(move |v| (question, v)))
        .enumerate()
        .map(|(position, (question, value))| (position, question, value))
}

impl Database {
    /// Write a response, its answers and its flags in one transaction. A
    /// web form's token is unique, so a second submission of the same
    /// form stores nothing and reports the first. An invited submission
    /// uses its invitation in the same transaction, or stores nothing.
    /// (Residents' submissions go through `Database::submit_partial`.)
    pub fn insert_response(&self, new: &NewResponse<'_>) -> Result<Inserted, DbError> {
        self.write_tx(|conn| insert_response_in(conn, new))
    }
}

/// `Database::insert_response` inside a transaction the caller holds (a
/// partial response is marked completed in the same one, see `partials`).
pub(super) fn insert_response_in(conn: &mut Conn, new: &NewResponse<'_>) -> Result<Inserted, DbError> {
    let (id, source, wave, stratum, submitted_at, form_token) = match new.how {
        Submission::Web { form_token } => {
            let id = reserve_ordered_ids(conn, 1)?[0];
            (id, Source::Web, new.wave, None, new.submitted_at, Some(form_token))
        }
        Submission::Invited(invited) => {
            let stratum = match invitation_use(conn, new.slug, new.wave, invited.lookup, Some(invited.form_mark))? {
                InvitationUse::Usable { stratum } => stratum,
                InvitationUse::UsedByThisForm => return Ok(Inserted::Duplicate),
                refused => return Ok(Inserted::Refused(refused)),
            };
            if !mark_used(conn, invited.lookup, invited.form_mark)? {
                // Another transaction used it between the two statements
                // (PostgreSQL): this form's own double tap, or another form.
                return Ok(
                    match invitation_use(conn, new.slug, new.wave, invited.lookup, Some(invited.form_mark))? {
                        InvitationUse::UsedByThisForm => Inserted::Duplicate,
                        _ => Inserted::Refused(InvitationUse::Used),
                    },
                );
            }
            let id = unused_random_id(conn)?;
            (
                id,
                Source::Invited,
                new.wave,
                Some(stratum),
                day_of(new.submitted_at),
                None,
            )
        }
    };
    // The form token is a unique key: of two submissions of one form
    // (a double tap, or one to each of two instances), the second stores
    // nothing, on either backend, whichever commits first.
    let insert = diesel::insert_into(responses::table)
        .values((
            responses::id.eq(id),
            responses::survey_version_id.eq(new.version_id),
            responses::survey_slug.eq(new.slug),
            responses::wave.eq(wave),
            responses::lang.eq(new.lang.code()),
            responses::submitted_at.eq(format_timestamp(submitted_at)),
            responses::source.eq(source.as_str()),
            responses::form_token.eq(form_token),
            responses::stratum.eq(stratum),
            responses::choice_codes.eq(new.choice_codes),
            responses::duration_seconds.eq(new.duration_seconds.map(|s| s.min(i32::MAX as u32) as i32)),
        ))
        .on_conflict(responses::form_token)
        .do_nothing();
    if on_backend!(&mut *conn, c => insert.execute(c))? == 0 {
        return Ok(Inserted::Duplicate);
    }
    let rows: Vec<_> = answer_rows(new.answers)
        .map(|(position, question, value)| {
            (
                answers::response_id.eq(id),
                answers::position.eq(position as i32),
                answers::question_id.eq(question),
                answers::value.eq(value),
            )
        })
        .collect();
    let insert = diesel::insert_into(answers::table).values(&rows);
    on_backend!(&mut *conn, c => insert.execute(c))?;
    if new.straightliner {
        flag(conn, &[id], Flag::Straightliner)?;
    }
    if source == Source::Web {
        flag_burst(conn, new, id)?;
    }
    Ok(Inserted::New(id))
}

/// PostgreSQL: a batch of open-link submissions (the group-commit
/// writer's, see `group_commit`), stored with one statement per table,
/// where [`insert_response_in`] and `partials::submit_partial_in` spend
/// eight round trips on each submission. Each gets the outcome it would
/// have had, had the batch been stored one submission after the other in
/// its order: a form token stored already, or earlier in the batch, is a
/// duplicate; so is a submission of saved answers completed already; the
/// burst check of each counts the batch's earlier submissions, not its
/// later ones. `None` for a submission this does not store (an invited
/// one, or saved answers submitted a second time in the batch): the
/// caller stores those on their own after the batch.
pub(super) fn insert_web_batch(
    conn: &mut Conn,
    batch: &[(Option<i64>, NewResponse<'_>)],
) -> Result<Vec<Option<Inserted>>, DbError> {
    match conn {
        #[cfg(feature = "postgres")]
        Conn::Postgres(c) => Ok(insert_web_batch_pg(c, batch)?),
        #[allow(unreachable_patterns)]
        _ => Err(DbError::WriteFailed(
            "batched submissions are stored this way on PostgreSQL only".into(),
        )),
    }
}

#[cfg(feature = "postgres")]
fn insert_web_batch_pg(
    conn: &mut diesel::PgConnection,
    batch: &[(Option<i64>, NewResponse<'_>)],
) -> QueryResult<Vec<Option<Inserted>>> {
    use diesel::sql_types::{Array, BigInt, Binary, Integer, Nullable, Text};
    use std::collections::{BTreeSet, HashMap, HashSet};

    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = BigInt)]
        k: i64,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }

    let mut outcomes: Vec<Option<Inserted>> = vec![None; batch.len()];
    // What this stores: open-link submissions, of each saved answers the first.
    let mut partials_seen = HashSet::new();
    let mut candidates: Vec<(usize, &str)> = Vec::new();
    for (k, (partial, new)) in batch.iter().enumerate() {
        let Submission::Web { form_token } = new.how else {
            continue;
        };
        if partial.is_some_and(|id| !partials_seen.insert(id)) {
            continue;
        }
        candidates.push((k, form_token));
    }
    if !partials_seen.is_empty() {
        #[derive(QueryableByName)]
        struct Saved {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            completed: bool,
        }
        let ids: Vec<i64> = partials_seen.iter().copied().collect();
        // Locked (in id order, so two writers never wait on each other in
        // a circle): a batch of another writer completing the same saved
        // answers commits first, and then they are read as completed.
        let completed: HashSet<i64> = diesel::sql_query(
            "SELECT id, completed_at IS NOT NULL AS completed FROM partial_responses \
             WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .bind::<Array<BigInt>, _>(&ids)
        .load::<Saved>(conn)?
        .into_iter()
        .filter(|row| row.completed)
        .map(|row| row.id)
        .collect();
        candidates.retain(|&(k, _)| match batch[k].0 {
            Some(id) if completed.contains(&id) => {
                outcomes[k] = Some(Inserted::Duplicate);
                false
            }
            _ => true,
        });
    }
    if candidates.is_empty() {
        return Ok(outcomes);
    }

    // Ids in arrival order, so the burst check below can tell earlier from later.
    let ids: Vec<i64> =
        diesel::sql_query("SELECT nextval('response_ids') AS id FROM generate_series(1, $1) ORDER BY 1")
            .bind::<BigInt, _>(candidates.len() as i64)
            .load::<Id>(conn)?
            .into_iter()
            .map(|row| row.id)
            .collect();
    let news: Vec<&NewResponse<'_>> = candidates.iter().map(|&(k, _)| &batch[k].1).collect();
    let tokens: Vec<&str> = candidates.iter().map(|&(_, token)| token).collect();
    let version_ids: Vec<i64> = news.iter().map(|n| n.version_id).collect();
    let slugs: Vec<&str> = news.iter().map(|n| n.slug).collect();
    let waves: Vec<i32> = news.iter().map(|n| n.wave).collect();
    let langs: Vec<&str> = news.iter().map(|n| n.lang.code()).collect();
    let times: Vec<String> = news.iter().map(|n| format_timestamp(n.submitted_at)).collect();
    let codes: Vec<&[u8]> = news.iter().map(|n| n.choice_codes).collect();
    let durations: Vec<Option<i32>> = news
        .iter()
        .map(|n| n.duration_seconds.map(|s| s.min(i32::MAX as u32) as i32))
        .collect();
    // The form token is a unique key: of two submissions of one form, in
    // this batch or not, the later stores nothing.
    let inserted: HashSet<i64> = diesel::sql_query(format!(
        "INSERT INTO responses (id, survey_version_id, survey_slug, wave, lang, submitted_at, source, form_token, \
                                choice_codes, duration_seconds) \
         SELECT id, version_id, slug, wave, lang, submitted_at, '{web}', form_token, choice_codes, duration \
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], \
                     $8::bytea[], $9::int[]) \
              WITH ORDINALITY AS t(id, version_id, slug, wave, lang, submitted_at, form_token, choice_codes, duration, k) \
         ORDER BY k \
         ON CONFLICT (form_token) DO NOTHING \
         RETURNING id",
        web = Source::Web.as_str()
    ))
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<BigInt>, _>(&version_ids)
    .bind::<Array<Text>, _>(&slugs)
    .bind::<Array<Integer>, _>(&waves)
    .bind::<Array<Text>, _>(&langs)
    .bind::<Array<Text>, _>(&times)
    .bind::<Array<Text>, _>(&tokens)
    .bind::<Array<Binary>, _>(&codes)
    .bind::<Array<Nullable<Integer>>, _>(&durations)
    .load::<Id>(conn)?
    .into_iter()
    .map(|row| row.id)
    .collect();
    // The stored ones, in arrival order: (index in `candidates`, id).
    let stored: Vec<(usize, i64)> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| inserted.contains(id))
        .map(|(i, &id)| (i, id))
        .collect();
    for (i, &(k, _)) in candidates.iter().enumerate() {
        outcomes[k] = Some(if inserted.contains(&ids[i]) {
            Inserted::New(ids[i])
        } else {
            Inserted::Duplicate
        });
    }
    if stored.is_empty() {
        return Ok(outcomes);
    }

    let (mut answer_ids, mut positions, mut questions, mut values) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &(i, id) in &stored {
        for (position, question, value) in answer_rows(news[i].answers) {
            answer_ids.push(id);
            positions.push(position as i32);
            questions.push(question);
            values.push(value);
        }
    }
    diesel::sql_query(
        "INSERT INTO answers (response_id, position, question_id, value) \
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[])",
    )
    .bind::<Array<BigInt>, _>(&answer_ids)
    .bind::<Array<Integer>, _>(&positions)
    .bind::<Array<Text>, _>(&questions)
    .bind::<Array<Text>, _>(&values)
    .execute(conn)?;

    let mut flags: BTreeSet<(i64, &str)> = stored
        .iter()
        .filter(|&&(i, _)| news[i].straightliner)
        .map(|&(_, id)| (id, Flag::Straightliner.as_str()))
        .collect();
    // `flag_burst` of each stored one, seeing the responses stored before
    // it: those committed, and the batch's with a smaller id.
    let burst_ids: Vec<i64> = stored.iter().map(|&(_, id)| id).collect();
    let burst_versions: Vec<i64> = stored.iter().map(|&(i, _)| news[i].version_id).collect();
    let burst_codes: Vec<&[u8]> = stored.iter().map(|&(i, _)| news[i].choice_codes).collect();
    let burst_since: Vec<String> = stored
        .iter()
        .map(|&(i, _)| format_timestamp(news[i].submitted_at - BURST_WINDOW))
        .collect();
    let found: Vec<Found> = diesel::sql_query(format!(
        "SELECT t.k AS k, r.id AS id \
         FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::text[]) \
              WITH ORDINALITY AS t(id, version_id, codes, since, k) \
         CROSS JOIN LATERAL ( \
             SELECT responses.id FROM responses \
             WHERE responses.source = '{web}' AND responses.survey_version_id = t.version_id \
               AND responses.choice_codes = t.codes AND responses.submitted_at >= t.since \
               AND responses.id <= t.id \
             LIMIT $5) r",
        web = Source::Web.as_str()
    ))
    .bind::<Array<BigInt>, _>(&burst_ids)
    .bind::<Array<BigInt>, _>(&burst_versions)
    .bind::<Array<Binary>, _>(&burst_codes)
    .bind::<Array<Text>, _>(&burst_since)
    .bind::<BigInt, _>(BURST_SIZE as i64 + 1)
    .load(conn)?;
    let mut same: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in found {
        same.entry(row.k).or_default().push(row.id);
    }
    for (k, &id) in (1i64..).zip(&burst_ids) {
        let same = same.get(&k).map(Vec::as_slice).unwrap_or_default();
        match same.len() {
            n if n < BURST_SIZE => {}
            n if n == BURST_SIZE => flags.extend(same.iter().map(|&other| (other, Flag::Burst.as_str()))),
            _ => {
                flags.insert((id, Flag::Burst.as_str()));
            }
        }
    }
    if !flags.is_empty() {
        let (flag_ids, flag_names): (Vec<i64>, Vec<&str>) = flags.into_iter().unzip();
        diesel::sql_query(
            "INSERT INTO response_flags (response_id, flag) SELECT * FROM unnest($1::bigint[], $2::text[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind::<Array<BigInt>, _>(&flag_ids)
        .bind::<Array<Text>, _>(&flag_names)
        .execute(conn)?;
    }

    // Saved answers completed by their submission, as `submit_partial_in`
    // does: only the dates and how far it got are kept.
    let (done_ids, done_at): (Vec<i64>, Vec<String>) = stored
        .iter()
        .filter_map(|&(i, _)| {
            batch[candidates[i].0]
                .0
                .map(|p| (p, format_timestamp(news[i].submitted_at)))
        })
        .unzip();
    if !done_ids.is_empty() {
        diesel::sql_query(
            "UPDATE partial_responses SET completed_at = t.at, updated_at = t.at, answers = '{}', \
                                          invitation_lookup = NULL \
             FROM unnest($1::bigint[], $2::text[]) AS t(id, at) \
             WHERE partial_responses.id = t.id AND partial_responses.completed_at IS NULL",
        )
        .bind::<Array<BigInt>, _>(&done_ids)
        .bind::<Array<Text>, _>(&done_at)
        .execute(conn)?;
    }
    Ok(outcomes)
}

impl Database {
    /// Number of responses per published version of a survey: (version, count).
    pub fn response_counts(&self, slug: &str) -> Result<Vec<(u32, i64)>, DbError> {
        let rows: Vec<(i32, i64)> = survey_versions::table
            .left_join(responses::table)
            .filter(survey_versions::slug.eq(slug))
            .filter(survey_versions::status.eq(VersionStatus::Published.as_str()))
            .group_by(survey_versions::version)
            .select((survey_versions::version, diesel::dsl::count(responses::id.nullable())))
            .order(survey_versions::version)
            .load(&mut self.conn()?)?;
        Ok(rows.into_iter().map(|(v, n)| (v as u32, n)).collect())
    }

    /// Visit every response of a survey without holding them all in
    /// memory: wave by wave, oldest first, and in each wave in storage
    /// order (web and imported responses in the order they came).
    pub fn for_each_response<E: From<DbError>>(
        &self,
        slug: &str,
        visit: impl FnMut(StoredResponse) -> Result<(), E>,
    ) -> Result<(), E> {
        self.for_each_response_in(slug, None, visit)
    }

    /// [`Database::for_each_response`] of one wave, or of every wave.
    ///
    /// One query per wave, on the (survey, wave, id) index and the answers'
    /// primary key, so SQLite streams the rows in order without sorting
    /// them (a sort of a million responses' answers would spill to disk).
    /// The response's own columns and its flags are read with its first
    /// answer row only (NULL on the others), so a response with thirty
    /// answers costs one set of them, not thirty.
    pub fn for_each_response_in<E: From<DbError>>(
        &self,
        slug: &str,
        wave: Option<i32>,
        mut visit: impl FnMut(StoredResponse) -> Result<(), E>,
    ) -> Result<(), E> {
        use diesel::dsl::sql;
        use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text};
        type Row = (
            i64,
            Option<i32>,
            Option<String>,
            Option<i32>,
            Option<String>,
            Option<String>,
            Option<i32>,
            Option<f64>,
            Option<String>,
            Option<String>,
            Option<i32>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        const FIRST: &str = "(answers.position IS NULL OR answers.position = 0)";
        fn first<ST: diesel::expression::TypedExpressionType>(expression: &str) -> diesel::expression::SqlLiteral<ST> {
            sql::<ST>(&format!("CASE WHEN {FIRST} THEN {expression} END"))
        }
        let waves = match wave {
            Some(w) => vec![w],
            None => self.waves(slug)?,
        };
        let mut conn = self.conn()?;
        let flags_of_response = match self.backend() {
            Backend::Sqlite => {
                "(SELECT group_concat(response_flags.flag, ',') FROM response_flags \
                 WHERE response_flags.response_id = responses.id)"
            }
            Backend::Postgres => {
                "(SELECT string_agg(response_flags.flag, ',') FROM response_flags \
                 WHERE response_flags.response_id = responses.id)"
            }
        };
        for wave in waves {
            let query = responses::table
                .inner_join(survey_versions::table)
                .left_join(answers::table)
                .filter(responses::survey_slug.eq(slug))
                .filter(responses::wave.eq(wave))
                .order((responses::id, answers::position.nullable()))
                .select((
                    responses::id,
                    first::<Nullable<Integer>>("1"),
                    first::<Nullable<Text>>("responses.external_id"),
                    first::<Nullable<Integer>>("survey_versions.version"),
                    first::<Nullable<Text>>("responses.lang"),
                    first::<Nullable<Text>>("responses.submitted_at"),
                    first::<Nullable<Integer>>(
                        "CASE responses.source WHEN 'web' THEN 0 WHEN 'invited' THEN 1 ELSE 2 END",
                    ),
                    first::<Nullable<Double>>("responses.weight"),
                    first::<Nullable<Text>>("responses.stratum"),
                    first::<Nullable<Text>>("responses.cluster"),
                    first::<Nullable<Integer>>("responses.duration_seconds"),
                    first::<Nullable<BigInt>>("responses.import_batch_id"),
                    first::<Nullable<Text>>(flags_of_response),
                    answers::question_id.nullable(),
                    answers::value.nullable(),
                ));
            let rows = (|| Ok::<_, DbError>(load_streaming!(query, &mut *conn, Row)))()?;
            let mut current: Option<(i64, StoredResponse)> = None;
            for row in rows {
                let (
                    id,
                    is_first,
                    external_id,
                    version,
                    lang,
                    submitted_at,
                    source,
                    weight,
                    stratum,
                    cluster,
                    duration,
                    import_batch,
                    flags,
                    question,
                    value,
                ) = row.map_err(DbError::from)?;
                if current.as_ref().is_none_or(|(cur, _)| *cur != id) {
                    if let Some((_, done)) = current.take() {
                        visit(done)?;
                    }
                    let (Some(_), Some(version), Some(lang), Some(submitted_at), Some(source)) =
                        (is_first, version, lang, submitted_at, source)
                    else {
                        return Err(DbError::Query(diesel::result::Error::DeserializationError(
                            format!("the answers of response {id} are not numbered from 0").into(),
                        ))
                        .into());
                    };
                    let response = StoredResponse {
                        id: external_id.unwrap_or_else(|| id.to_string()),
                        version: version as u32,
                        wave,
                        lang,
                        submitted_at,
                        source: [Source::Web, Source::Invited, Source::Import][source.clamp(0, 2) as usize]
                            .as_str()
                            .to_string(),
                        weight: weight.unwrap_or(1.0),
                        stratum,
                        cluster,
                        duration_seconds: duration.and_then(|d| u32::try_from(d).ok()),
                        import_batch,
                        flags: flags
                            .iter()
                            .flat_map(|list| list.split(','))
                            .filter_map(|f| f.parse::<Flag>().ok())
                            .collect(),
                        answers: Vec::new(),
                    };
                    current = Some((id, response));
                }
                if let (Some(q), Some(v), Some((_, response))) = (question, value, current.as_mut()) {
                    response.answers.push((q, v));
                }
            }
            if let Some((_, done)) = current {
                visit(done)?;
            }
        }
        Ok(())
    }

    /// The waves that have responses, oldest first. Asked for on every
    /// dashboard page: one index seek per wave (the next wave after the
    /// last found), where `DISTINCT` would read the whole index of the
    /// survey (70 ms at 1,000,000 responses against 0.02 ms).
    pub fn waves(&self, slug: &str) -> Result<Vec<i32>, DbError> {
        let mut conn = self.conn()?;
        let mut waves = Vec::new();
        loop {
            let mut next = responses::table
                .filter(responses::survey_slug.eq(slug))
                .select(diesel::dsl::min(responses::wave))
                .into_boxed();
            if let Some(last) = waves.last() {
                next = next.filter(responses::wave.gt(*last));
            }
            match next.first::<Option<i32>>(&mut conn)? {
                Some(wave) => waves.push(wave),
                None => return Ok(waves),
            }
        }
    }
}

/// A random id of the upper range that no response has.
fn unused_random_id(conn: &mut Conn) -> QueryResult<i64> {
    loop {
        let id = rand::rng().random_range(RANDOM_IDS_FROM..i64::MAX);
        let taken: i64 = responses::table.filter(responses::id.eq(id)).count().get_result(conn)?;
        if taken == 0 {
            return Ok(id);
        }
    }
}

pub(super) fn flag(conn: &mut Conn, ids: &[i64], flag: Flag) -> QueryResult<usize> {
    let rows: Vec<_> = ids
        .iter()
        .map(|&id| {
            (
                response_flags::response_id.eq(id),
                response_flags::flag.eq(flag.as_str()),
            )
        })
        .collect();
    let insert = diesel::insert_into(response_flags::table)
        .values(&rows)
        .on_conflict_do_nothing();
    on_backend!(conn, c => insert.execute(c))
}

/// When the response just stored makes [`BURST_SIZE`] identical open-link
/// responses to its version within [`BURST_WINDOW`], flag them all; when
/// it makes more, the others were flagged when the count reached
/// [`BURST_SIZE`] (each arrival's window holds all but one of the previous
/// arrival's), so only the new one is. Reading at most one more than a
/// burst keeps this cheap however long a flood goes on.
fn flag_burst(conn: &mut Conn, new: &NewResponse<'_>, id: i64) -> QueryResult<()> {
    let since = format_timestamp(new.submitted_at - BURST_WINDOW);
    let same: Vec<i64> = responses::table
        .filter(responses::source.eq(Source::Web.as_str()))
        .filter(responses::survey_version_id.eq(new.version_id))
        .filter(responses::choice_codes.eq(new.choice_codes))
        .filter(responses::submitted_at.ge(since))
        .select(responses::id)
        .limit(BURST_SIZE as i64 + 1)
        .load(conn)?;
    match same.len() {
        n if n < BURST_SIZE => Ok(()),
        n if n == BURST_SIZE => flag(conn, &same, Flag::Burst).map(|_| ()),
        _ => flag(conn, &[id], Flag::Burst).map(|_| ()),
    }
}

impl Database {
    /// Which ways responses of a wave came in (an index lookup per source,
    /// whatever the size of the wave).
    pub fn sources_present(&self, slug: &str, wave: i32) -> Result<Vec<Source>, DbError> {
        let mut conn = self.conn()?;
        let mut present = Vec::new();
        for source in Source::ALL {
            let found: Option<i64> = responses::table
                .filter(responses::survey_slug.eq(slug))
                .filter(responses::wave.eq(wave))
                .filter(responses::source.eq(source.as_str()))
                .select(responses::id)
                .first(&mut conn)
                .optional()?;
            if found.is_some() {
                present.push(*source);
            }
        }
        Ok(present)
    }

    /// How many responses of a wave came in by `source`.
    pub fn count_source(&self, slug: &str, wave: i32, source: Source) -> Result<u64, DbError> {
        let n: i64 = responses::table
            .filter(responses::survey_slug.eq(slug))
            .filter(responses::wave.eq(wave))
            .filter(responses::source.eq(source.as_str()))
            .count()
            .get_result(&mut self.conn()?)?;
        Ok(n as u64)
    }

    /// How many responses of a wave came in each way.
    pub fn source_counts(&self, slug: &str, wave: i32) -> Result<Vec<(Source, u64)>, DbError> {
        let rows: Vec<(String, i64)> = responses::table
            .filter(responses::survey_slug.eq(slug))
            .filter(responses::wave.eq(wave))
            .group_by(responses::source)
            .select((responses::source, diesel::dsl::count_star()))
            .load(&mut self.conn()?)?;
        rows.into_iter()
            .map(|(source, n)| {
                let source = source
                    .parse::<Source>()
                    .map_err(|e| DbError::Query(diesel::result::Error::DeserializationError(e.to_string().into())))?;
                Ok((source, n as u64))
            })
            .collect()
    }
}
