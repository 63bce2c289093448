//! Storage. The only module that knows which database engine is in use:
//! it owns the connection pool, the embedded migrations (run at start-up)
//! and every query. The rest of the program sees `Database` and plain
//! domain values.
//!
//! One file per stored thing: `versions` (definitions, drafts, publishing),
//! `responses` (web, invited and imported answers, flags), `import` (import
//! batches and their bulk writes), `analysis` (a wave in columns for the
//! engine), `export` (the per-wave figures of an export's design
//! columns), `margins`, `fieldwork` (waves, frames, invitations, fieldwork
//! counts), `partials` (answers saved part way through the section pages,
//! never read by any analysis), `accounts` (staff, sessions, lockouts, audit log), `tokens`
//! (API tokens), `settings`, and `generation` (how current a survey's data
//! are, for cached results). This file wires the pool and the one way to write.
//!
//! Calls block; the web layer runs them on actix's blocking thread pool.

mod accounts;
mod analysis;
mod export;
mod fieldwork;
mod generation;
mod import;
mod margins;
mod partials;
mod responses;
mod schema;
mod settings;
mod tokens;
mod url;
mod versions;

pub use accounts::{AuditEntry, NewSession, Session, SignInAttempt, User};
pub use analysis::{AnalysisColumns, ResponseFacts};
pub use fieldwork::{FieldworkError, InvitationBatch, InvitationUse, IssuedInvitation, MAX_BATCH};
pub use generation::DataGeneration;
pub use import::{
    interned, BatchSpec, ImportBatch, ImportCounts, ImportReport, ImportedResponse, Importer, StoredCluster,
    SKIPPED_IDS_KEPT,
};
pub use margins::MarginTotal;
pub use partials::{answers_from_json, answers_to_json, NewPartial, Partial, PartialCounts, PartialKey};
pub use responses::{Inserted, InvitedSubmission, NewResponse, StoredResponse, Submission};
pub use settings::KeyMismatch;
pub use url::{DatabaseUrl, DatabaseUrlError};
pub use versions::{DraftError, StoredDraft, StoredSurvey, VersionInfo, VersionStatus};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use sha2::{Digest, Sha256};
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
    #[error(
        "wave {wave} of survey {slug:?} already has an import batch named {name:?}; to put a corrected file \
         in its place run `civicpulse import replace {slug} {name} FILE.csv`, or give this import another --name"
    )]
    ImportNameInUse { slug: String, wave: i32, name: String },
    #[error("survey {slug:?} has no import batch {id}; `civicpulse import list {slug}` lists them")]
    NoImportBatch { slug: String, id: i64 },
    #[error("the stored definition of survey {slug:?} version {version} no longer loads: {message}")]
    StoredDefinition {
        slug: String,
        version: u32,
        message: String,
    },
    #[error(transparent)]
    Account(#[from] crate::account::AccountError),
    #[error(transparent)]
    Fieldwork(#[from] FieldworkError),
    #[error(transparent)]
    Key(#[from] KeyMismatch),
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

/// The connection every query runs on.
type Conn = SqliteConnection;
type Pooled = PooledConnection<ConnectionManager<SqliteConnection>>;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionManager<SqliteConnection>>,
    /// SQLite admits one writer at a time and makes the others sleep and
    /// retry with growing pauses; queueing the writers of this process
    /// here instead keeps the slowest submission fast under load.
    writer: std::sync::Arc<std::sync::Mutex<()>>,
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

/// A timestamp written by [`format_timestamp`].
pub fn parse_timestamp(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
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

    fn conn(&self) -> Result<Pooled, DbError> {
        Ok(self.pool.get()?)
    }

    /// Run `f` as one write transaction. SQLite's `BEGIN IMMEDIATE` takes
    /// the write lock at once, so nothing read inside can change before the
    /// commit. The process's own writers queue on a lock taken *before* a
    /// pooled connection is checked out, so a burst of writers waits
    /// without holding the connections readers need.
    fn write_tx<T, E>(&self, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<DbError>,
    {
        // A poisoned lock only means another write panicked; SQLite's own
        // transaction kept the data consistent, so carry on.
        let _turn = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut conn = self.conn()?;
        conn.immediate_transaction(f)
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
