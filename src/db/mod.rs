//! Storage. The only module that knows which database engine is in use:
//! it owns the connection pool, the embedded migrations (run at start-up)
//! and every query. The rest of the program sees `Database` and plain
//! domain values.
//!
//! One file per stored thing: `versions` (definitions, drafts, publishing),
//! `responses` (web, invited and imported answers, flags), `import` (import
//! batches and their bulk writes), `analysis` (a wave in columns for the
//! engine), `aggregates` (a wave's sufficient statistics, added up by
//! PostgreSQL), `export` (the per-wave figures of an export's design
//! columns), `margins`, `fieldwork` (waves, frames, invitations, fieldwork
//! counts), `partials` (answers saved part way through the section pages,
//! never read by any analysis), `accounts` (staff, sessions, lockouts, audit log), `tokens`
//! (API tokens), `settings`, and `generation` (how current a survey's data
//! are, for cached results). `connection` owns the pool, the two backends, migrations and the one
//! way to write; `group_commit` batches resident submissions into shared commits on SQLite.
//!
//! Calls block; the web layer runs them on actix's blocking thread pool.

mod accounts;
#[cfg(feature = "postgres")]
mod aggregates;
mod analysis;
mod connection;
mod export;
mod fieldwork;
mod generation;
mod group_commit;
mod import;
mod margins;
mod partials;
mod responses;
mod retention;
mod schema;
mod settings;
mod tokens;
mod url;
mod versions;

pub use accounts::{AuditEntry, NewSession, Session, SignInAttempt, User};
#[cfg(feature = "postgres")]
pub use aggregates::{AggregateQuery, Aggregates, AnswerKey, CompositeTerms, ItemSums, UnitSums, WaveFilter};
pub use analysis::{AnalysisColumns, ResponseFacts};
pub use connection::{raw_connection, AnyConnection, Backend, Database, PoolSettings, DEFAULT_CONNECTION_TIMEOUT};
pub use fieldwork::{FieldworkError, InvitationBatch, InvitationUse, IssuedInvitation, MAX_BATCH};
pub use generation::DataGeneration;
pub use group_commit::GroupCommitStats;
pub use import::{
    interned, BatchSpec, ImportBatch, ImportCounts, ImportReport, ImportedResponse, Importer, StoredCluster,
    SKIPPED_IDS_KEPT,
};
pub use margins::MarginTotal;
pub use partials::{answers_from_json, answers_to_json, NewPartial, Partial, PartialCounts, PartialKey};
pub use responses::{Inserted, InvitedSubmission, NewResponse, StoredResponse, Submission};
pub use retention::{Purged, TextQuestions};
pub use settings::KeyMismatch;
pub use tokens::{ApiToken, TokenRefusal};
pub use url::{DatabaseUrl, DatabaseUrlError};
pub use versions::{DraftError, StoredDraft, StoredSurvey, VersionInfo, VersionStatus};

pub(crate) use connection::one_line;
use connection::{lock_key, Conn};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database {url}: {message}")]
    Open { url: String, message: String },
    #[error("cannot bring the database schema up to date: {0}")]
    Migration(String),
    #[error(
        "the database {url} is not set up for this version of civicpulse ({pending} schema change(s) not applied); \
         run `civicpulse migrate` (or start the server once), then try again"
    )]
    SchemaBehind { url: String, pending: usize },
    #[error("the database writer has stopped")]
    WriterStopped,
    #[error("the write failed: {0}")]
    WriteFailed(String),
    /// One database failure told to each of several waiting writers (the
    /// batch of a group commit), keeping what kind of outage it was.
    #[error("{message}")]
    Shared { message: String, outage: Option<Outage> },
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

/// Why the database could not do what was asked, when the fault is the
/// database's service rather than the request: the same request may
/// succeed later, so a resident is asked to send it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// No connection: the server is down or the network between is cut.
    Unreachable,
    /// The disk the database writes to has no room left.
    DiskFull,
    /// Every connection was busy, or a write waited too long for a lock.
    Busy,
}

impl Outage {
    /// For the operator's log.
    pub fn describe(self) -> &'static str {
        match self {
            Outage::Unreachable => "the database is unreachable",
            Outage::DiskFull => "the disk of the database is full",
            Outage::Busy => "the database is too busy",
        }
    }
}

impl DbError {
    /// The outage this error is a symptom of, if any; `None` for errors
    /// that sending the same request again would not cure.
    pub fn outage(&self) -> Option<Outage> {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            // The pool gave up waiting; it says why when an attempt to
            // connect failed.
            DbError::Pool(e) => Some(if e.to_string().contains(": ") {
                Outage::Unreachable
            } else {
                Outage::Busy
            }),
            DbError::Open { .. } => Some(Outage::Unreachable),
            DbError::Shared { outage, .. } => *outage,
            DbError::Query(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ))
            | DbError::Query(Error::BrokenTransactionManager) => Some(Outage::Unreachable),
            DbError::Query(Error::DatabaseError(_, info)) => {
                let message = info.message();
                // SQLite: SQLITE_FULL; PostgreSQL: ENOSPC while extending
                // a file or writing the WAL (SQLSTATE 53100).
                if message.contains("database or disk is full") || message.contains("No space left on device") {
                    Some(Outage::DiskFull)
                } else if message.contains("database is locked") || message.contains("database is busy") {
                    Some(Outage::Busy)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
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

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
