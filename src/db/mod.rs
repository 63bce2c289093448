//! Storage. The only module that knows which database engine is in use:
//! it owns the connection pool, the embedded migrations (run at start-up)
//! and every query. The rest of the program sees `Database` and plain
//! domain values.
//!
//! Calls block; the web layer runs them on actix's blocking thread pool.

mod accounts;
mod import;
mod schema;
mod url;
mod versions;

pub use accounts::{
    check_password, generate_password, AccountError, AuditEntry, NewSession, Role, Session, User, Username,
    COMMAND_LINE_ACTOR, MIN_PASSWORD_CHARS, SESSION_LIFETIME,
};
pub use import::{ImportCounts, ImportedResponse, Importer};

pub use url::{DatabaseUrl, DatabaseUrlError};
pub use versions::{DraftError, PublishWindow, StoredDraft, VersionInfo, VersionStatus};

use crate::lang::Lang;
use crate::survey::{Answers, Survey};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use schema::{answers, api_tokens, population_margins, responses, survey_versions};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database {url}: {message}")]
    Open { url: String, message: String },
    #[error("cannot bring the database schema up to date: {0}")]
    Migration(String),
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error(
        "version {version} of survey {slug:?} is already stored with different content; \
         a published version never changes, so give the changed questionnaire a new version number"
    )]
    DefinitionChanged { slug: String, version: u32 },
    #[error(
        "survey {slug:?} has a draft numbered version {version} in the database, so the definition file of \
         that version cannot be published from the definitions folder; publish or replace the draft \
         (`civicpulse survey publish`, `civicpulse survey import`), or number the file's version differently"
    )]
    DraftInTheWay { slug: String, version: u32 },
    #[error("an API token named {0:?} already exists")]
    TokenExists(String),
    #[error("the import was abandoned")]
    ImportAbandoned,
    #[error("the stored definition of survey {slug:?} version {version} no longer loads: {message}")]
    StoredDefinition {
        slug: String,
        version: u32,
        message: String,
    },
}

/// Applied to every pooled connection. WAL lets readers run beside the one
/// writer; `synchronous = FULL` makes each commit durable before the
/// resident sees the thank-you page.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// SQLite serialises every call on a connection with a mutex unless told
/// otherwise. The pool hands each connection to one thread at a time, so
/// that locking is pure overhead (5% of an index run over a million
/// respondents). Multi-thread mode must be chosen before SQLite starts, so
/// this runs once, before the first connection is opened.
fn use_multithread_mode() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is called before any other SQLite call of
        // this process (the Once runs before the first connection); if
        // SQLite had started already it returns SQLITE_MISUSE and changes
        // nothing, which is safe.
        let rc = unsafe { libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD) };
        if rc != libsqlite3_sys::SQLITE_OK {
            log::debug!("SQLite keeps serialized mode (sqlite3_config returned {rc})");
        }
    });
}

type Conn = PooledConnection<ConnectionManager<SqliteConnection>>;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionManager<SqliteConnection>>,
    /// SQLite admits one writer at a time and makes the others sleep and
    /// retry with growing pauses; queueing the submissions of this process
    /// here instead keeps the slowest submission fast under load.
    writer: std::sync::Arc<std::sync::Mutex<()>>,
}

/// A stored survey version together with its row id.
#[derive(Debug, Clone)]
pub struct StoredSurvey {
    pub version_id: i64,
    pub survey: Survey,
    /// First day residents may answer (UTC), if set when publishing.
    pub opens_at: Option<time::Date>,
    /// Last day residents may answer (UTC), if set when publishing.
    pub closes_at: Option<time::Date>,
}

/// Whether residents may answer a published version on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Open,
    /// Opens on this day.
    NotYetOpen(time::Date),
    /// Closed after this day (its last open day).
    Closed(time::Date),
}

impl StoredSurvey {
    /// Open on `today` (a UTC date): `opens_at` is the first open day and
    /// `closes_at` the last, both included.
    pub fn availability(&self, today: time::Date) -> Availability {
        match (self.opens_at, self.closes_at) {
            (Some(opens), _) if today < opens => Availability::NotYetOpen(opens),
            (_, Some(closes)) if today > closes => Availability::Closed(closes),
            _ => Availability::Open,
        }
    }
}

/// A response ready to be written.
#[derive(Debug, Clone)]
pub struct NewResponse<'a> {
    pub version_id: i64,
    pub slug: &'a str,
    pub lang: Lang,
    pub submitted_at: time::OffsetDateTime,
    /// Web submissions: the token of the rendered form, so a double submit
    /// is stored once.
    pub form_token: Option<&'a str>,
    pub answers: &'a Answers,
    /// `Survey::choice_codes` of the answers.
    pub choice_codes: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New(i64),
    /// The same form was already stored (double tap or reload).
    Duplicate(i64),
}

/// A response as exported: answers in long format, in answer order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub id: String,
    pub version: u32,
    pub wave: i32,
    pub lang: String,
    pub submitted_at: String,
    pub answers: Vec<(String, String)>,
}

/// RFC 3339 in UTC with whole seconds, e.g. `2026-11-29T15:53:36Z`: sorts
/// as text and reads the same on every backend.
pub fn format_timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl Database {
    /// Open (creating the file if needed) and migrate.
    pub fn open(url: &DatabaseUrl) -> Result<Database, DbError> {
        use_multithread_mode();
        let DatabaseUrl::Sqlite(path) = url;
        let open_error = |message: String| DbError::Open {
            url: url.to_string(),
            message,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(open_error(format!("the folder {} does not exist", parent.display())));
            }
        }
        let manager = ConnectionManager::<SqliteConnection>::new(path.to_string_lossy());
        let pool = Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(15))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(manager)
            .map_err(|e| open_error(e.to_string()))?;
        let db = Database {
            pool,
            writer: Default::default(),
        };
        let mut conn = db.conn()?;
        // WAL is a property of the file, so it is set once here, not per connection.
        conn.batch_execute("PRAGMA journal_mode = WAL;")
            .map_err(|e| open_error(e.to_string()))?;
        conn.run_pending_migrations(MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(db)
    }

    fn conn(&self) -> Result<Conn, DbError> {
        Ok(self.pool.get()?)
    }

    /// Store each definition that is not stored yet, as published. A
    /// version that is stored already must be identical: published versions
    /// never change. A designer's draft holding that version number is not
    /// overwritten; it is reported instead.
    pub fn sync_definitions(&self, surveys: &[Survey]) -> Result<(), DbError> {
        let mut conn = self.conn()?;
        conn.immediate_transaction(|conn| {
            for survey in surveys {
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
                let date = |text: Option<String>| {
                    text.map(|t| versions::PublishWindow::parse_date(&t))
                        .transpose()
                        .map_err(broken)
                };
                let opens_at = date(opens_at)?;
                let closes_at = date(closes_at)?;
                let survey =
                    Survey::from_toml(&format!("{slug} v{version}"), &text).map_err(|e| broken(e.to_string()))?;
                Ok(StoredSurvey {
                    version_id,
                    survey,
                    opens_at,
                    closes_at,
                })
            })
            .collect()
    }

    /// Write a response and its answers in one transaction. The form token
    /// is unique, so a second submission of the same form stores nothing
    /// and reports the first one.
    pub fn insert_response(&self, new: &NewResponse<'_>) -> Result<Inserted, DbError> {
        let mut conn = self.conn()?;
        // A poisoned lock only means another write panicked; SQLite's own
        // transaction kept the data consistent, so carry on.
        let _turn = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        conn.immediate_transaction(|conn| {
            if let Some(token) = new.form_token {
                let existing: Option<i64> = responses::table
                    .filter(responses::form_token.eq(token))
                    .select(responses::id)
                    .first(conn)
                    .optional()?;
                if let Some(id) = existing {
                    return Ok(Inserted::Duplicate(id));
                }
            }
            let id: i64 = diesel::insert_into(responses::table)
                .values((
                    responses::survey_version_id.eq(new.version_id),
                    responses::survey_slug.eq(new.slug),
                    responses::wave.eq(new.submitted_at.year()),
                    responses::lang.eq(new.lang.code()),
                    responses::submitted_at.eq(format_timestamp(new.submitted_at)),
                    responses::source.eq("web"),
                    responses::form_token.eq(new.form_token),
                    responses::choice_codes.eq(new.choice_codes),
                ))
                .returning(responses::id)
                .get_result(conn)?;
            let rows: Vec<_> = new
                .answers
                .iter()
                .flat_map(|(question, value)| value.stored_values().into_iter().map(move |v| (question, v)))
                .enumerate()
                .map(|(position, (question, value))| {
                    (
                        answers::response_id.eq(id),
                        answers::position.eq(position as i32),
                        answers::question_id.eq(question),
                        answers::value.eq(value),
                    )
                })
                .collect();
            diesel::insert_into(answers::table).values(&rows).execute(conn)?;
            Ok(Inserted::New(id))
        })
    }

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

    /// Visit every response of a survey in submission order without
    /// holding them all in memory.
    pub fn for_each_response<E: From<DbError>>(
        &self,
        slug: &str,
        mut visit: impl FnMut(StoredResponse) -> Result<(), E>,
    ) -> Result<(), E> {
        type Row = (
            i64,
            Option<String>,
            i32,
            i32,
            String,
            String,
            Option<String>,
            Option<String>,
        );
        let mut conn = self.conn()?;
        let rows = responses::table
            .inner_join(survey_versions::table)
            .left_join(answers::table)
            .filter(responses::survey_slug.eq(slug))
            .order((responses::id, answers::position.nullable()))
            .select((
                responses::id,
                responses::external_id,
                survey_versions::version,
                responses::wave,
                responses::lang,
                responses::submitted_at,
                answers::question_id.nullable(),
                answers::value.nullable(),
            ))
            .load_iter::<Row, diesel::connection::DefaultLoadingMode>(&mut conn)
            .map_err(DbError::from)?;
        let mut current: Option<(i64, StoredResponse)> = None;
        for row in rows {
            let (id, external_id, version, wave, lang, submitted_at, question, value) = row.map_err(DbError::from)?;
            if current.as_ref().is_none_or(|(cur, _)| *cur != id) {
                if let Some((_, done)) = current.take() {
                    visit(done)?;
                }
                let response = StoredResponse {
                    id: external_id.unwrap_or_else(|| id.to_string()),
                    version: version as u32,
                    wave,
                    lang,
                    submitted_at,
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
        Ok(())
    }

    /// Create an API token named `name`; returns the token, whose SHA-256
    /// hash alone is stored.
    pub fn create_api_token(&self, name: &str) -> Result<String, DbError> {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let token = format!("cp_{}", hex::encode(bytes));
        let inserted = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::name.eq(name),
                api_tokens::token_hash.eq(token_hash(&token)),
                api_tokens::created_at.eq(format_timestamp(time::OffsetDateTime::now_utc())),
            ))
            .execute(&mut self.conn()?);
        match inserted {
            Ok(_) => Ok(token),
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                Err(DbError::TokenExists(name.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The name of the API token `token`, if it is one.
    pub fn api_token_name(&self, token: &str) -> Result<Option<String>, DbError> {
        Ok(api_tokens::table
            .filter(api_tokens::token_hash.eq(token_hash(token)))
            .select(api_tokens::name)
            .first(&mut self.conn()?)
            .optional()?)
    }
}

/// Respondents of one survey wave in columns, as the index engine wants
/// them. Strata and clusters are interned to small integers.
#[derive(Debug, Default)]
pub struct AnalysisColumns {
    /// Stored version row id of each respondent.
    pub version_ids: Vec<i64>,
    pub weights: Vec<f64>,
    /// Index into `strata`; respondents without a stratum share one.
    pub stratum: Vec<u32>,
    pub strata: Vec<String>,
    /// PSU of each respondent: its cluster, or the respondent itself when
    /// it has none (web responses). Numbered from 0, nested in strata.
    pub psu: Vec<u32>,
    pub psu_count: u32,
    /// `choice_codes` of every respondent, concatenated; `code_offsets[i]`
    /// is where respondent i's codes start (their length is the number of
    /// questions of its version).
    pub codes: Vec<u8>,
    pub code_offsets: Vec<usize>,
    own_psus: u32,
}

/// PSU numbering while reading: clusters first, then own PSUs after them.
#[derive(Debug, Clone, Copy)]
enum PsuRef {
    Cluster(u32),
    Own(u32),
}

impl AnalysisColumns {
    pub fn len(&self) -> usize {
        self.weights.len()
    }
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

/// What one reader thread collected, with its own interning.
#[derive(Default)]
struct PartialColumns {
    version_ids: Vec<i64>,
    weights: Vec<f64>,
    strata: Vec<Option<String>>,
    stratum: Vec<u32>,
    clusters: Vec<(u32, String)>,
    cluster: Vec<Option<u32>>,
    own_index: Vec<u32>,
    own_psus: u32,
    codes: Vec<u8>,
    code_offsets: Vec<usize>,
    stratum_lookup: HashMap<Option<String>, u32>,
    cluster_lookup: HashMap<u32, HashMap<String, u32>>,
}

impl PartialColumns {
    fn push(&mut self, version_id: i64, weight: f64, stratum: Option<String>, cluster: Option<String>, codes: &[u8]) {
        let s = match self.stratum_lookup.get(&stratum) {
            Some(&s) => s,
            None => {
                let next = self.strata.len() as u32;
                self.strata.push(stratum.clone());
                self.stratum_lookup.insert(stratum, next);
                next
            }
        };
        match cluster {
            Some(c) => {
                // Look up by reference: a million rows, a handful of clusters.
                let per_stratum = self.cluster_lookup.entry(s).or_default();
                let id = match per_stratum.get(c.as_str()) {
                    Some(&id) => id,
                    None => {
                        let next = self.clusters.len() as u32;
                        self.clusters.push((s, c.clone()));
                        per_stratum.insert(c, next);
                        next
                    }
                };
                self.cluster.push(Some(id));
                self.own_index.push(0);
            }
            None => {
                self.cluster.push(None);
                self.own_index.push(self.own_psus);
                self.own_psus += 1;
            }
        }
        self.version_ids.push(version_id);
        self.weights.push(weight);
        self.stratum.push(s);
        self.code_offsets.push(self.codes.len());
        self.codes.extend_from_slice(codes);
    }
}

impl Database {
    /// The waves that have responses, oldest first.
    pub fn waves(&self, slug: &str) -> Result<Vec<i32>, DbError> {
        Ok(responses::table
            .filter(responses::survey_slug.eq(slug))
            .select(responses::wave)
            .distinct()
            .order(responses::wave)
            .load(&mut self.conn()?)?)
    }

    /// Every response of `slug` in `wave`, in columns. Reads the compact
    /// choice codes, never the long-format rows, and reads two halves of
    /// the id range on two connections at once (WAL lets readers share).
    pub fn analysis_columns(&self, slug: &str, wave: i32) -> Result<AnalysisColumns, DbError> {
        let in_wave = || {
            responses::table
                .filter(responses::survey_slug.eq(slug))
                .filter(responses::wave.eq(wave))
        };
        let (low, high): (Option<i64>, Option<i64>) = in_wave()
            .select((diesel::dsl::min(responses::id), diesel::dsl::max(responses::id)))
            .first(&mut self.conn()?)?;
        let (Some(low), Some(high)) = (low, high) else {
            return Ok(AnalysisColumns::default());
        };
        let middle = low + (high - low) / 2;
        let read = |from: i64, to: i64| -> Result<PartialColumns, DbError> {
            type Row = (i64, f64, Option<String>, Option<String>, Vec<u8>);
            let mut conn = self.conn()?;
            let rows = in_wave()
                .filter(responses::id.between(from, to))
                .order(responses::id)
                .select((
                    responses::survey_version_id,
                    responses::weight,
                    responses::stratum,
                    responses::cluster,
                    responses::choice_codes,
                ))
                .load_iter::<Row, diesel::connection::DefaultLoadingMode>(&mut conn)?;
            let mut part = PartialColumns::default();
            for row in rows {
                let (version_id, weight, stratum, cluster, codes) = row?;
                part.push(version_id, weight, stratum, cluster, &codes);
            }
            Ok(part)
        };
        let (first, second) = std::thread::scope(|scope| {
            let second = scope.spawn(|| read(middle + 1, high));
            (read(low, middle), second.join().expect("reader thread"))
        });
        let mut out = AnalysisColumns::default();
        let mut strata: HashMap<Option<String>, u32> = HashMap::new();
        let mut clusters: HashMap<(u32, String), u32> = HashMap::new();
        let mut psu_refs: Vec<PsuRef> = Vec::new();
        for part in [first?, second?] {
            let stratum_ids: Vec<u32> = part
                .strata
                .iter()
                .map(|name| {
                    let next = strata.len() as u32;
                    *strata.entry(name.clone()).or_insert_with(|| {
                        out.strata.push(name.clone().unwrap_or_default());
                        next
                    })
                })
                .collect();
            let cluster_ids: Vec<u32> = part
                .clusters
                .iter()
                .map(|(s, name)| {
                    let next = clusters.len() as u32;
                    *clusters.entry((stratum_ids[*s as usize], name.clone())).or_insert(next)
                })
                .collect();
            let own_psu_base = out.own_psus;
            for i in 0..part.weights.len() {
                out.stratum.push(stratum_ids[part.stratum[i] as usize]);
                psu_refs.push(match part.cluster[i] {
                    Some(c) => PsuRef::Cluster(cluster_ids[c as usize]),
                    None => PsuRef::Own(own_psu_base + part.own_index[i]),
                });
            }
            out.own_psus += part.own_psus;
            out.version_ids.extend_from_slice(&part.version_ids);
            out.weights.extend_from_slice(&part.weights);
            let base = out.codes.len();
            out.code_offsets.extend(part.code_offsets.iter().map(|o| o + base));
            out.codes.extend_from_slice(&part.codes);
        }
        // Clusters are numbered first, respondents without one after them.
        let cluster_count = clusters.len() as u32;
        out.psu = psu_refs
            .into_iter()
            .map(|r| match r {
                PsuRef::Cluster(c) => c,
                PsuRef::Own(k) => cluster_count + k,
            })
            .collect();
        out.psu_count = cluster_count + out.own_psus;
        Ok(out)
    }
}

/// One population total: `question,value,total` of a margins file.
#[derive(Debug, Clone, PartialEq)]
pub struct MarginTotal {
    pub question: String,
    pub value: String,
    pub total: f64,
}

impl Database {
    /// Replace the population margins of a survey wave.
    pub fn set_margins(&self, slug: &str, wave: i32, margins: &[MarginTotal]) -> Result<(), DbError> {
        let mut conn = self.conn()?;
        conn.immediate_transaction(|conn| {
            diesel::delete(
                population_margins::table
                    .filter(population_margins::survey_slug.eq(slug))
                    .filter(population_margins::wave.eq(wave)),
            )
            .execute(conn)?;
            let rows: Vec<_> = margins
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    (
                        population_margins::survey_slug.eq(slug),
                        population_margins::wave.eq(wave),
                        population_margins::position.eq(i as i32),
                        population_margins::question_id.eq(&m.question),
                        population_margins::value.eq(&m.value),
                        population_margins::total.eq(m.total),
                    )
                })
                .collect();
            diesel::insert_into(population_margins::table)
                .values(&rows)
                .execute(conn)?;
            Ok(())
        })
    }

    /// The stored population margins of a survey wave, in file order.
    pub fn margins(&self, slug: &str, wave: i32) -> Result<Vec<MarginTotal>, DbError> {
        let rows: Vec<(String, String, f64)> = population_margins::table
            .filter(population_margins::survey_slug.eq(slug))
            .filter(population_margins::wave.eq(wave))
            .order(population_margins::position)
            .select((
                population_margins::question_id,
                population_margins::value,
                population_margins::total,
            ))
            .load(&mut self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(|(question, value, total)| MarginTotal { question, value, total })
            .collect())
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
