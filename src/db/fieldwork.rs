//! Storage of fieldwork: wave settings, sampling frames, invitation
//! batches and the invitations themselves.
//!
//! Invitations are stored so that no response can be traced to one (see
//! docs/privacy.md): the code is never stored, only a keyed hash to find
//! it by and a nonce to print it again with the server key; a used code is
//! marked `used` with no time; and no response refers to an invitation.

use super::accounts::audit;
use super::connection::on_backend;
use super::schema::{frame_strata, invitation_batches, invitations, waves};
use super::{format_timestamp, Conn, Database, DbError};
use crate::crypto::ServerKey;
use crate::fieldwork::wave::Access;
use crate::fieldwork::{FrameStratum, InvitationCode, WaveSettings};
use crate::survey::schedule::{date_text, parse_date, DateWindow};
use diesel::prelude::*;
use rand::RngCore;

/// Most invitations in one batch: a print run, not a city's whole register.
pub const MAX_BATCH: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldworkError {
    #[error(
        "survey {slug:?} has no wave {wave} set up; `civicpulse wave set {slug} --wave {wave}` sets it up \
         (or store its frame with `civicpulse frame set`)"
    )]
    NoWave { slug: String, wave: i32 },
    #[error(
        "the sampling frame of {slug:?} wave {wave} has no stratum {stratum:?}; store the frame first \
         (`civicpulse frame set {slug} FILE.csv --wave {wave}`): the weights need every stratum's population"
    )]
    NotInFrame { slug: String, wave: i32, stratum: String },
    #[error("a batch holds 1 to {MAX_BATCH} invitations, not {0}")]
    BatchSize(u64),
    #[error("survey {slug:?} has no invitation batch {batch}")]
    NoBatch { slug: String, batch: i64 },
    #[error("stored wave settings of {slug:?} wave {wave} no longer read: {message}")]
    Stored { slug: String, wave: i32, message: String },
}

/// One invitation as printed: its place in the batch and its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedInvitation {
    pub position: u32,
    pub code: InvitationCode,
    pub used: bool,
}

/// A batch of invitations for one stratum.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationBatch {
    pub id: i64,
    pub slug: String,
    pub wave: i32,
    pub stratum: String,
    pub size: u32,
    pub used: u32,
    pub created_at: String,
    pub created_by: String,
}

/// What a typed code turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvitationUse {
    /// Issued and not used yet: the response may be stored, in this stratum.
    Usable { stratum: String },
    /// Not an invitation to this survey.
    Unknown,
    /// Already answered with another form.
    Used,
    /// Already answered with this very form (a double tap or a reload).
    UsedByThisForm,
    /// An invitation to another wave of this survey.
    OtherWave { wave: i32 },
}

type WaveRow = (
    i32,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

fn wave_from_row(
    slug: &str,
    (wave, access, stratum_question, opens, closes, helpline, results): WaveRow,
) -> Result<WaveSettings, DbError> {
    let stored = |message: String| FieldworkError::Stored {
        slug: slug.to_string(),
        wave,
        message,
    };
    let date = |t: Option<String>| t.map(|t| parse_date(&t)).transpose().map_err(&stored);
    let window = DateWindow::new(date(opens)?, date(closes)?).map_err(|e| stored(e.to_string()))?;
    Ok(WaveSettings {
        wave,
        access: access.parse::<Access>().map_err(|e| stored(e.to_string()))?,
        stratum_question,
        window,
        helpline,
        results_published: date(results)?,
    })
}

const WAVE_COLUMNS: (
    waves::wave,
    waves::access,
    waves::stratum_question,
    waves::opens_on,
    waves::closes_on,
    waves::helpline,
    waves::results_published_on,
) = (
    waves::wave,
    waves::access,
    waves::stratum_question,
    waves::opens_on,
    waves::closes_on,
    waves::helpline,
    waves::results_published_on,
);

fn wave_row(conn: &mut Conn, slug: &str, wave: i32) -> Result<Option<WaveSettings>, DbError> {
    let row: Option<WaveRow> = waves::table
        .find((slug, wave))
        .select(WAVE_COLUMNS)
        .first(conn)
        .optional()?;
    row.map(|r| wave_from_row(slug, r)).transpose()
}

fn put_wave(conn: &mut Conn, slug: &str, settings: &WaveSettings) -> QueryResult<usize> {
    let values = (
        waves::access.eq(settings.access.as_str()),
        waves::stratum_question.eq(&settings.stratum_question),
        waves::opens_on.eq(date_text(settings.window.opens())),
        waves::closes_on.eq(date_text(settings.window.closes())),
        waves::helpline.eq(&settings.helpline),
        waves::results_published_on.eq(date_text(settings.results_published)),
    );
    let upsert = diesel::insert_into(waves::table)
        .values((
            waves::survey_slug.eq(slug),
            waves::wave.eq(settings.wave),
            values.clone(),
        ))
        .on_conflict((waves::survey_slug, waves::wave))
        .do_update()
        .set(values);
    on_backend!(conn, c => upsert.execute(c))
}

fn describe(settings: &WaveSettings) -> String {
    let mut detail = format!(
        "wave {}: access {}, strata from {}",
        settings.wave, settings.access, settings.stratum_question
    );
    if let Some(d) = date_text(settings.window.opens()) {
        detail.push_str(&format!(", opens {d}"));
    }
    if let Some(d) = date_text(settings.window.closes()) {
        detail.push_str(&format!(", closes {d}"));
    }
    if let Some(d) = date_text(settings.results_published) {
        detail.push_str(&format!(", results published {d}"));
    }
    detail
}

impl Database {
    /// Every wave of `slug` that was set up, oldest first.
    pub fn wave_settings(&self, slug: &str) -> Result<Vec<WaveSettings>, DbError> {
        let rows: Vec<WaveRow> = waves::table
            .filter(waves::survey_slug.eq(slug))
            .order(waves::wave)
            .select(WAVE_COLUMNS)
            .load(&mut self.conn()?)?;
        rows.into_iter().map(|r| wave_from_row(slug, r)).collect()
    }

    /// The settings of one wave, if it was set up.
    pub fn wave(&self, slug: &str, wave: i32) -> Result<Option<WaveSettings>, DbError> {
        let mut conn = self.conn()?;
        wave_row(&mut conn, slug, wave)
    }

    /// Set up a wave or change its settings; audited.
    pub fn set_wave(&self, slug: &str, settings: &WaveSettings, actor: &str) -> Result<(), DbError> {
        self.write_tx(|conn| {
            put_wave(conn, slug, settings)?;
            audit(conn, actor, "wave.set", &format!("{slug} {}", describe(settings)))?;
            Ok(())
        })
    }

    /// Replace the sampling frame of a wave, setting the wave up with
    /// `new_wave`'s settings if it is not yet; audited. Returns whether the
    /// wave was set up now.
    pub fn set_frame(
        &self,
        slug: &str,
        new_wave: &WaveSettings,
        strata: &[FrameStratum],
        actor: &str,
    ) -> Result<bool, DbError> {
        let wave = new_wave.wave;
        self.write_tx(|conn| {
            let created = wave_row(conn, slug, wave)?.is_none();
            if created {
                put_wave(conn, slug, new_wave)?;
                audit(conn, actor, "wave.set", &format!("{slug} {}", describe(new_wave)))?;
            }
            diesel::delete(
                frame_strata::table
                    .filter(frame_strata::survey_slug.eq(slug))
                    .filter(frame_strata::wave.eq(wave)),
            )
            .execute(conn)?;
            let rows: Vec<_> = strata
                .iter()
                .map(|s| {
                    (
                        frame_strata::survey_slug.eq(slug),
                        frame_strata::wave.eq(wave),
                        frame_strata::stratum.eq(&s.stratum),
                        frame_strata::population.eq(s.population),
                    )
                })
                .collect();
            let insert = diesel::insert_into(frame_strata::table).values(&rows);
            on_backend!(&mut *conn, c => insert.execute(c))?;
            let total: f64 = strata.iter().map(|s| s.population).sum();
            audit(
                conn,
                actor,
                "frame.set",
                &format!("{slug} wave {wave}: {} strata, population {total}", strata.len()),
            )?;
            Ok(created)
        })
    }

    /// The sampling frame of a wave, in stored (file) order; empty when none.
    pub fn frame(&self, slug: &str, wave: i32) -> Result<Vec<FrameStratum>, DbError> {
        let rows: Vec<(String, f64)> = frame_strata::table
            .filter(frame_strata::survey_slug.eq(slug))
            .filter(frame_strata::wave.eq(wave))
            .order(frame_strata::stratum)
            .select((frame_strata::stratum, frame_strata::population))
            .load(&mut self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(|(stratum, population)| FrameStratum { stratum, population })
            .collect())
    }

    /// Issue `count` invitations for `stratum` of a wave, as one batch;
    /// audited. The stratum must be in the wave's frame.
    pub fn create_invitations(
        &self,
        slug: &str,
        wave: i32,
        stratum: &str,
        count: u64,
        key: &ServerKey,
        actor: &str,
    ) -> Result<(InvitationBatch, Vec<IssuedInvitation>), DbError> {
        if count == 0 || count > u64::from(MAX_BATCH) {
            return Err(FieldworkError::BatchSize(count).into());
        }
        let count = count as u32;
        let now = format_timestamp(time::OffsetDateTime::now_utc());
        self.write_tx(|conn| {
            if wave_row(conn, slug, wave)?.is_none() {
                return Err(FieldworkError::NoWave {
                    slug: slug.to_string(),
                    wave,
                }
                .into());
            }
            let in_frame: i64 = frame_strata::table
                .filter(frame_strata::survey_slug.eq(slug))
                .filter(frame_strata::wave.eq(wave))
                .filter(frame_strata::stratum.eq(stratum))
                .count()
                .get_result(conn)?;
            if in_frame == 0 {
                return Err(FieldworkError::NotInFrame {
                    slug: slug.to_string(),
                    wave,
                    stratum: stratum.to_string(),
                }
                .into());
            }
            let id: i64 = diesel::insert_into(invitation_batches::table)
                .values((
                    invitation_batches::survey_slug.eq(slug),
                    invitation_batches::wave.eq(wave),
                    invitation_batches::stratum.eq(stratum),
                    invitation_batches::size.eq(count as i32),
                    invitation_batches::created_at.eq(&now),
                    invitation_batches::created_by.eq(actor),
                ))
                .returning(invitation_batches::id)
                .get_result(conn)?;
            let mut issued = Vec::with_capacity(count as usize);
            for position in 1..=count {
                let code = loop {
                    let mut nonce = [0u8; 16];
                    rand::rng().fill_bytes(&mut nonce);
                    // About one nonce in seven would need an extra check
                    // symbol, and a code may (very rarely) exist already:
                    // both just take another nonce.
                    let Some(code) = InvitationCode::from_nonce(key, &nonce) else {
                        continue;
                    };
                    let insert = diesel::insert_into(invitations::table)
                        .values((
                            invitations::lookup.eq(code.lookup_key(key)),
                            invitations::batch_id.eq(id),
                            invitations::position.eq(position as i32),
                            invitations::nonce.eq(hex::encode(nonce)),
                        ))
                        .on_conflict_do_nothing();
                    let inserted = on_backend!(&mut *conn, c => insert.execute(c))?;
                    if inserted == 1 {
                        break code;
                    }
                };
                issued.push(IssuedInvitation {
                    position,
                    code,
                    used: false,
                });
            }
            audit(
                conn,
                actor,
                "invitations.create",
                &format!("{slug} wave {wave}: batch {id}, {count} invitations for {stratum}"),
            )?;
            let batch = InvitationBatch {
                id,
                slug: slug.to_string(),
                wave,
                stratum: stratum.to_string(),
                size: count,
                used: 0,
                created_at: now.clone(),
                created_by: actor.to_string(),
            };
            Ok((batch, issued))
        })
    }

    /// The invitation batches of a wave (every wave when `None`), oldest
    /// first, with how many of each were used.
    pub fn invitation_batches(&self, slug: &str, wave: Option<i32>) -> Result<Vec<InvitationBatch>, DbError> {
        type Row = (i64, i32, String, i32, String, String, i64);
        let mut query = invitation_batches::table
            .left_join(
                invitations::table.on(invitations::batch_id
                    .eq(invitation_batches::id)
                    .and(invitations::status.eq("used"))),
            )
            .filter(invitation_batches::survey_slug.eq(slug))
            .group_by(invitation_batches::id)
            .select((
                invitation_batches::id,
                invitation_batches::wave,
                invitation_batches::stratum,
                invitation_batches::size,
                invitation_batches::created_at,
                invitation_batches::created_by,
                diesel::dsl::count(invitations::lookup.nullable()),
            ))
            .order(invitation_batches::id)
            .into_boxed();
        if let Some(wave) = wave {
            query = query.filter(invitation_batches::wave.eq(wave));
        }
        let rows: Vec<Row> = query.load(&mut self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, wave, stratum, size, created_at, created_by, used)| InvitationBatch {
                    id,
                    slug: slug.to_string(),
                    wave,
                    stratum,
                    size: size as u32,
                    used: used as u32,
                    created_at,
                    created_by,
                },
            )
            .collect())
    }

    /// One batch with its codes, printed again from the stored nonces.
    pub fn invitation_batch(
        &self,
        slug: &str,
        batch: i64,
        key: &ServerKey,
    ) -> Result<(InvitationBatch, Vec<IssuedInvitation>), DbError> {
        let info = self
            .invitation_batches(slug, None)?
            .into_iter()
            .find(|b| b.id == batch)
            .ok_or_else(|| FieldworkError::NoBatch {
                slug: slug.to_string(),
                batch,
            })?;
        let rows: Vec<(i32, String, String)> = invitations::table
            .filter(invitations::batch_id.eq(batch))
            .order(invitations::position)
            .select((invitations::position, invitations::nonce, invitations::status))
            .load(&mut self.conn()?)?;
        let issued = rows
            .into_iter()
            .filter_map(|(position, nonce, status)| {
                let nonce = hex::decode(nonce).ok()?;
                Some(IssuedInvitation {
                    position: position as u32,
                    code: InvitationCode::from_nonce(key, &nonce)?,
                    used: status == "used",
                })
            })
            .collect::<Vec<_>>();
        if issued.len() != info.size as usize {
            log::error!(
                "batch {batch} of {slug}: {} of {} codes could not be printed again; is this the key the batch was made with?",
                info.size as usize - issued.len(),
                info.size
            );
        }
        Ok((info, issued))
    }

    /// What a code is, without using it (the start page checks a code
    /// before the resident spends time on the form).
    pub fn check_invitation(&self, slug: &str, wave: i32, lookup: &str) -> Result<InvitationUse, DbError> {
        let mut conn = self.conn()?;
        invitation_use(&mut conn, slug, wave, lookup, None)
    }

    /// Invitations issued per stratum of a wave.
    pub fn invited_per_stratum(&self, slug: &str, wave: i32) -> Result<Vec<(String, i64)>, DbError> {
        Ok(invitation_batches::table
            .filter(invitation_batches::survey_slug.eq(slug))
            .filter(invitation_batches::wave.eq(wave))
            .group_by(invitation_batches::stratum)
            .select((invitation_batches::stratum, diesel::dsl::sum(invitation_batches::size)))
            .order(invitation_batches::stratum)
            .load::<(String, Option<i64>)>(&mut self.conn()?)?
            .into_iter()
            .map(|(s, n)| (s, n.unwrap_or(0)))
            .collect())
    }
}

/// Look a code up for `slug`'s `wave`. With `form_mark` (the keyed hash of
/// the submitting form), a code used by that same form is recognised.
pub(super) fn invitation_use(
    conn: &mut Conn,
    slug: &str,
    wave: i32,
    lookup: &str,
    form_mark: Option<&str>,
) -> Result<InvitationUse, DbError> {
    let row: Option<(String, i32, String, String, Option<String>)> = invitations::table
        .inner_join(invitation_batches::table)
        .filter(invitations::lookup.eq(lookup))
        .select((
            invitation_batches::survey_slug,
            invitation_batches::wave,
            invitation_batches::stratum,
            invitations::status,
            invitations::used_form,
        ))
        .first(conn)
        .optional()?;
    Ok(match row {
        None => InvitationUse::Unknown,
        Some((s, _, _, _, _)) if s != slug => InvitationUse::Unknown,
        Some((_, w, _, _, _)) if w != wave => InvitationUse::OtherWave { wave: w },
        Some((_, _, _, status, used_form)) if status == "used" => {
            let same = matches!((form_mark, used_form.as_deref()), (Some(a), Some(b)) if a == b);
            if same {
                InvitationUse::UsedByThisForm
            } else {
                InvitationUse::Used
            }
        }
        Some((_, _, stratum, _, _)) => InvitationUse::Usable { stratum },
    })
}

/// Mark an issued invitation used by the form `form_mark`, with no time.
/// False when it was used meanwhile (the caller's transaction decides).
pub(super) fn mark_used(conn: &mut Conn, lookup: &str, form_mark: &str) -> QueryResult<bool> {
    let changed = diesel::update(
        invitations::table
            .filter(invitations::lookup.eq(lookup))
            .filter(invitations::status.eq("issued")),
    )
    .set((invitations::status.eq("used"), invitations::used_form.eq(form_mark)))
    .execute(conn)?;
    Ok(changed == 1)
}
