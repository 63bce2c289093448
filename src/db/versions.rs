//! Drafts and publishing: how a designer's definition becomes a version.
//!
//! A draft is a `survey_versions` row with status `draft` and the next
//! version number (at most one per survey; storing another replaces it).
//! It must read as the file format but need not pass validation yet, so a
//! designer can store work with translations still missing. Publishing runs
//! the full validation and turns the row into a published version, which
//! never changes again. Both steps check the version rules of
//! `survey::versioning` against every published version of the survey, and
//! write their audit entry in the same transaction as the change.
//!
//! It also stores the definition files shipped with the program (as
//! published versions) and loads every published version for the
//! registry.
//!
//! The stored text is always `toml::to_string_pretty` of the raw model (the
//! same path as `Survey::to_toml`), with the file's `version` rewritten to
//! the number being created, so exporting and importing again is lossless.

use super::accounts::audit;
use super::schema::survey_versions;
use super::{format_timestamp, lock_key, Conn, Database, DbError};
use crate::survey::raw::RawSurvey;
use crate::survey::schedule::{date_text, parse_date, DateWindow};
use crate::survey::versioning::{self, VersionProblem};
use crate::survey::{DefinitionError, Slug, Survey};
use diesel::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("{0}")]
    Slug(String),
    #[error("survey {slug:?} has no draft; `civicpulse survey import FILE` starts one")]
    NoDraft { slug: String },
    #[error("survey {slug:?} has no published version {version}")]
    NoVersion { slug: String, version: u32 },
    #[error("the draft cannot be published until these are fixed:\n{0}")]
    Invalid(DefinitionError),
    #[error(
        "{slug} v{version} would change the meaning of questions of earlier versions:\n{}",
        .problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
    )]
    Incompatible {
        slug: String,
        version: u32,
        problems: Vec<VersionProblem>,
    },
    #[error(
        "the draft of {slug:?} is version {draft}, but version {latest} was published since; \
         import the draft again to renumber it"
    )]
    Outdated { slug: String, draft: u32, latest: u32 },
    #[error(transparent)]
    Window(#[from] crate::survey::schedule::ClosesBeforeOpening),
    #[error("cannot write the definition as TOML: {0}")]
    Serialise(String),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for DraftError {
    fn from(e: diesel::result::Error) -> DraftError {
        DraftError::Database(e.into())
    }
}

/// The `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionStatus {
    Draft,
    Published,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Draft => "draft",
            VersionStatus::Published => "published",
        }
    }
}

/// The current draft of a survey.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDraft {
    pub slug: String,
    pub version: u32,
    /// The TOML text exactly as stored.
    pub definition: String,
    pub created_at: String,
}

/// One stored version, draft or published, without its definition.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    pub version: u32,
    pub status: String,
    pub created_at: String,
    pub published_at: Option<String>,
    pub opens_at: Option<String>,
    pub closes_at: Option<String>,
}

impl Database {
    /// How many versions of any survey are published. Versions are never
    /// deleted or unpublished, so the number grows with each publication:
    /// instances compare it to notice one made elsewhere.
    pub fn published_version_count(&self) -> Result<i64, DbError> {
        Ok(survey_versions::table
            .filter(survey_versions::status.eq(VersionStatus::Published.as_str()))
            .count()
            .get_result(&mut self.conn()?)?)
    }

    /// Store each definition that is not stored yet, as published. A
    /// version that is stored already must be identical: published versions
    /// never change. A designer's draft holding that version number is not
    /// overwritten; it is reported instead.
    pub fn sync_definitions(&self, surveys: &[Survey]) -> Result<(), DbError> {
        self.write_tx(|conn| {
            for survey in surveys {
                lock_key(conn, &survey_lock(survey.slug.as_str()))?;
                let stored: Option<(String, String)> = survey_versions::table
                    .filter(survey_versions::slug.eq(survey.slug.as_str()))
                    .filter(survey_versions::version.eq(survey.version as i32))
                    .select((survey_versions::definition, survey_versions::status))
                    .first(conn)
                    .optional()?;
                match stored {
                    Some((_, status)) if status == VersionStatus::Draft.as_str() => {
                        return Err(DbError::DraftInTheWay {
                            slug: survey.slug.to_string(),
                            version: survey.version,
                        });
                    }
                    Some((text, _)) => {
                        let same = Survey::from_toml("<stored>", &text)
                            .map(|s| s.raw() == survey.raw())
                            .unwrap_or(false);
                        if !same {
                            return Err(DbError::DefinitionChanged {
                                slug: survey.slug.to_string(),
                                version: survey.version,
                            });
                        }
                    }
                    None => {
                        diesel::insert_into(survey_versions::table)
                            .values((
                                survey_versions::slug.eq(survey.slug.as_str()),
                                survey_versions::version.eq(survey.version as i32),
                                survey_versions::definition.eq(survey.to_toml()),
                                survey_versions::created_at.eq(format_timestamp(time::OffsetDateTime::now_utc())),
                            ))
                            .execute(conn)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Every published version of every survey, oldest version first.
    /// Drafts are left out: residents and analyses only ever see published
    /// versions (see `drafts` for the designers' side).
    pub fn stored_surveys(&self) -> Result<Vec<StoredSurvey>, DbError> {
        type Row = (i64, String, i32, String, Option<String>, Option<String>);
        let rows: Vec<Row> = survey_versions::table
            .filter(survey_versions::status.eq(VersionStatus::Published.as_str()))
            .select((
                survey_versions::id,
                survey_versions::slug,
                survey_versions::version,
                survey_versions::definition,
                survey_versions::opens_at,
                survey_versions::closes_at,
            ))
            .order((survey_versions::slug, survey_versions::version))
            .load(&mut self.conn()?)?;
        rows.into_iter()
            .map(|(version_id, slug, version, text, opens_at, closes_at)| {
                let broken = |message: String| DbError::StoredDefinition {
                    slug: slug.clone(),
                    version: version as u32,
                    message,
                };
                let date = |text: Option<String>| text.map(|t| parse_date(&t)).transpose().map_err(&broken);
                let window = DateWindow::new(date(opens_at)?, date(closes_at)?).map_err(|e| broken(e.to_string()))?;
                let survey =
                    Survey::from_toml(&format!("{slug} v{version}"), &text).map_err(|e| broken(e.to_string()))?;
                Ok(StoredSurvey {
                    version_id,
                    survey,
                    window,
                })
            })
            .collect()
    }

    /// The stored text of a published version (the latest when `version`
    /// is `None`), exactly as stored: (version, TOML).
    pub fn published_definition(&self, slug: &str, version: Option<u32>) -> Result<Option<(u32, String)>, DbError> {
        let mut query = survey_versions::table
            .filter(survey_versions::slug.eq(slug))
            .filter(survey_versions::status.eq(VersionStatus::Published.as_str()))
            .select((survey_versions::version, survey_versions::definition))
            .order(survey_versions::version.desc())
            .into_boxed();
        if let Some(v) = version {
            query = query.filter(survey_versions::version.eq(v as i32));
        }
        let row: Option<(i32, String)> = query.first(&mut self.conn()?).optional()?;
        Ok(row.map(|(v, text)| (v as u32, text)))
    }

    /// Every survey with a stored version (published or draft), by slug.
    pub fn survey_slugs(&self) -> Result<Vec<String>, DbError> {
        Ok(survey_versions::table
            .select(survey_versions::slug)
            .distinct()
            .order(survey_versions::slug)
            .load(&mut self.conn()?)?)
    }

    /// The current draft of `slug`, if there is one.
    pub fn draft(&self, slug: &str) -> Result<Option<StoredDraft>, DbError> {
        let mut conn = self.conn()?;
        Ok(draft_row(&mut conn, slug)?)
    }

    /// Every stored version of `slug`, drafts included, oldest first.
    pub fn versions(&self, slug: &str) -> Result<Vec<VersionInfo>, DbError> {
        type Row = (i32, String, String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<Row> = survey_versions::table
            .filter(survey_versions::slug.eq(slug))
            .order(survey_versions::version)
            .select((
                survey_versions::version,
                survey_versions::status,
                survey_versions::created_at,
                survey_versions::published_at,
                survey_versions::opens_at,
                survey_versions::closes_at,
            ))
            .load(&mut self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(
                |(version, status, created_at, published_at, opens_at, closes_at)| VersionInfo {
                    version: version as u32,
                    status,
                    created_at,
                    published_at,
                    opens_at,
                    closes_at,
                },
            )
            .collect())
    }

    /// Store `raw` as the draft of its survey, replacing any earlier draft;
    /// returns the version number it got. The definition need not be
    /// complete, but it may not change the meaning of a question id.
    pub fn store_draft(&self, raw: RawSurvey, actor: &str) -> Result<u32, DraftError> {
        self.write_tx(|conn| put_draft(conn, raw, actor, "survey.import"))
    }

    /// Change the stored draft of `slug` with `edit` and store the result
    /// back as the draft, audited as `action`; all in one transaction, so
    /// an edit never works on a draft that another save has replaced.
    /// When `edit` refuses, nothing is stored and its error is returned
    /// inside `Ok`. The edited draft need not be complete, as with
    /// `store_draft`.
    pub fn update_draft<T, E>(
        &self,
        slug: &str,
        actor: &str,
        action: &str,
        edit: impl FnOnce(&mut RawSurvey) -> Result<T, E>,
    ) -> Result<Result<(u32, T), E>, DraftError> {
        self.write_tx(|conn| {
            lock_key(conn, &survey_lock(slug))?;
            let draft = draft_row(conn, slug)?.ok_or_else(|| DraftError::NoDraft { slug: slug.to_string() })?;
            let mut raw: RawSurvey = toml::from_str(&draft.definition).map_err(|e| {
                DraftError::Database(DbError::StoredDefinition {
                    slug: slug.to_string(),
                    version: draft.version,
                    message: e.to_string(),
                })
            })?;
            match edit(&mut raw) {
                Ok(outcome) => Ok(Ok((put_draft(conn, raw, actor, action)?, outcome))),
                Err(refused) => Ok(Err(refused)),
            }
        })
    }

    /// Validate and publish the draft of `slug`; returns its version.
    pub fn publish_draft(&self, slug: &str, window: DateWindow, actor: &str) -> Result<u32, DraftError> {
        self.write_tx(|conn| publish(conn, slug, window, actor))
    }

    /// Store `raw` as a draft and publish it, in one transaction: when it
    /// does not pass, nothing is stored (not even the draft).
    pub fn import_and_publish(&self, raw: RawSurvey, window: DateWindow, actor: &str) -> Result<u32, DraftError> {
        let slug = raw.slug.clone();
        self.write_tx(|conn| {
            put_draft(conn, raw, actor, "survey.import")?;
            publish(conn, &slug, window, actor)
        })
    }
}

/// What keeps two writers of one survey's versions apart on PostgreSQL:
/// the next draft number and publishing are read and written in one go.
fn survey_lock(slug: &str) -> String {
    format!("survey {slug}")
}

fn draft_row(conn: &mut Conn, slug: &str) -> QueryResult<Option<StoredDraft>> {
    let row: Option<(i32, String, String)> = survey_versions::table
        .filter(survey_versions::slug.eq(slug))
        .filter(survey_versions::status.eq(VersionStatus::Draft.as_str()))
        .select((
            survey_versions::version,
            survey_versions::definition,
            survey_versions::created_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(version, definition, created_at)| StoredDraft {
        slug: slug.to_string(),
        version: version as u32,
        definition,
        created_at,
    }))
}

/// Every published version of `slug`, validated again from its text.
fn published(conn: &mut Conn, slug: &str) -> Result<Vec<Survey>, DbError> {
    let rows: Vec<(i32, String)> = survey_versions::table
        .filter(survey_versions::slug.eq(slug))
        .filter(survey_versions::status.eq(VersionStatus::Published.as_str()))
        .select((survey_versions::version, survey_versions::definition))
        .order(survey_versions::version)
        .load(conn)?;
    rows.into_iter()
        .map(|(version, text)| {
            Survey::from_toml(&format!("{slug} v{version}"), &text).map_err(|e| DbError::StoredDefinition {
                slug: slug.to_string(),
                version: version as u32,
                message: e.to_string(),
            })
        })
        .collect()
}

fn check_rules(earlier: &[Survey], raw: &RawSurvey) -> Result<(), DraftError> {
    let earlier: Vec<&Survey> = earlier.iter().collect();
    let problems = versioning::check(&earlier, raw);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DraftError::Incompatible {
            slug: raw.slug.clone(),
            version: raw.version,
            problems,
        })
    }
}

fn put_draft(conn: &mut Conn, mut raw: RawSurvey, actor: &str, action: &str) -> Result<u32, DraftError> {
    let slug = Slug::parse(&raw.slug).map_err(DraftError::Slug)?;
    lock_key(conn, &survey_lock(slug.as_str()))?;
    let earlier = published(conn, slug.as_str())?;
    raw.version = earlier.iter().map(|s| s.version).max().unwrap_or(0) + 1;
    check_rules(&earlier, &raw)?;
    let text = toml::to_string_pretty(&raw).map_err(|e| DraftError::Serialise(e.to_string()))?;
    diesel::delete(
        survey_versions::table
            .filter(survey_versions::slug.eq(slug.as_str()))
            .filter(survey_versions::status.eq(VersionStatus::Draft.as_str())),
    )
    .execute(conn)?;
    diesel::insert_into(survey_versions::table)
        .values((
            survey_versions::slug.eq(slug.as_str()),
            survey_versions::version.eq(raw.version as i32),
            survey_versions::definition.eq(&text),
            survey_versions::created_at.eq(format_timestamp(time::OffsetDateTime::now_utc())),
            survey_versions::status.eq(VersionStatus::Draft.as_str()),
        ))
        .execute(conn)?;
    audit(conn, actor, action, &format!("{slug} v{} (draft)", raw.version))?;
    Ok(raw.version)
}

fn publish(conn: &mut Conn, slug: &str, window: DateWindow, actor: &str) -> Result<u32, DraftError> {
    lock_key(conn, &survey_lock(slug))?;
    let draft = draft_row(conn, slug)?.ok_or_else(|| DraftError::NoDraft { slug: slug.to_string() })?;
    let earlier = published(conn, slug)?;
    if let Some(latest) = earlier.iter().map(|s| s.version).max().filter(|&v| v >= draft.version) {
        return Err(DraftError::Outdated {
            slug: slug.to_string(),
            draft: draft.version,
            latest,
        });
    }
    let survey = Survey::from_toml(&format!("{slug} v{} (draft)", draft.version), &draft.definition)
        .map_err(DraftError::Invalid)?;
    check_rules(&earlier, survey.raw())?;
    let now = format_timestamp(time::OffsetDateTime::now_utc());
    diesel::update(
        survey_versions::table
            .filter(survey_versions::slug.eq(slug))
            .filter(survey_versions::version.eq(draft.version as i32)),
    )
    .set((
        survey_versions::status.eq(VersionStatus::Published.as_str()),
        survey_versions::published_at.eq(&now),
        survey_versions::opens_at.eq(date_text(window.opens())),
        survey_versions::closes_at.eq(date_text(window.closes())),
    ))
    .execute(conn)?;
    let mut detail = format!("{slug} v{}", draft.version);
    if let Some(opens) = date_text(window.opens()) {
        detail.push_str(&format!(", opens {opens}"));
    }
    if let Some(closes) = date_text(window.closes()) {
        detail.push_str(&format!(", closes {closes}"));
    }
    audit(conn, actor, "survey.publish", &detail)?;
    Ok(draft.version)
}

/// A stored survey version together with its row id.
#[derive(Debug, Clone)]
pub struct StoredSurvey {
    pub version_id: i64,
    pub survey: Survey,
    /// The days residents may answer, as set when publishing.
    pub window: DateWindow,
}
