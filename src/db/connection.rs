//! Connections over either backend, SQLite or PostgreSQL, chosen by the
//! database URL's scheme; the pool; the embedded migrations of each; and
//! the one way to write.
//!
//! Every query is written once against [`AnyConnection`], diesel's
//! multi-backend connection. The few statements the two backends must
//! spell differently (`ON CONFLICT`, PostgreSQL's row-by-row loading, an
//! advisory lock) run on the concrete connection through [`on_backend!`].
//!
//! Uniqueness is the database's job on both backends (unique keys and
//! `ON CONFLICT`), never a check followed by an insert. What cannot be a
//! key, such as the next draft number of a survey, is serialised with
//! [`lock_key`]: a transaction-scoped advisory lock on PostgreSQL, where
//! writers run side by side; nothing on SQLite, whose `BEGIN IMMEDIATE`
//! admits one writer at a time anyway.

use super::group_commit::{GroupCommit, GroupCommitStats};
use super::{DatabaseUrl, DbError};
use diesel::connection::{AnsiTransactionManager, Connection, SimpleConnection, TransactionManager};
use diesel::migration::MigrationSource;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("build with at least one database backend: --features sqlite and/or --features postgres");

#[cfg(feature = "sqlite")]
const SQLITE_MIGRATIONS: EmbeddedMigrations = diesel_migrations::embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: EmbeddedMigrations = diesel_migrations::embed_migrations!("migrations/postgres");

/// The key of the session advisory lock held while migrating PostgreSQL,
/// so that instances started together migrate one after the other
/// ("cp" "mi" "gr" in ASCII).
#[cfg(feature = "postgres")]
const MIGRATION_LOCK: i64 = 0x6370_6d69_6772;

/// Any backend of this build, to list the embedded migrations with (the
/// list is the same for every backend).
#[cfg(feature = "sqlite")]
type ListingBackend = diesel::sqlite::Sqlite;
#[cfg(not(feature = "sqlite"))]
type ListingBackend = diesel::pg::Pg;

/// A connection to whichever database the URL named.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    #[cfg(feature = "sqlite")]
    Sqlite(diesel::SqliteConnection),
    #[cfg(feature = "postgres")]
    Postgres(diesel::PgConnection),
}

/// The connection every query runs on.
pub(crate) type Conn = AnyConnection;
type Pooled = PooledConnection<Manager>;

/// Runs `$body` with `$c` bound to the concrete connection of `$conn`
/// (a `&mut AnyConnection`): the body is compiled once per backend, so it
/// may use what diesel offers one backend but not the multi-backend
/// connection (`ON CONFLICT`, loading modes).
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            $crate::db::connection::AnyConnection::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            $crate::db::connection::AnyConnection::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// `$query`'s rows of type `$row`, read one at a time from `$conn` (a
/// `&mut AnyConnection`) on either backend: PostgreSQL's default loading
/// mode would read the whole result into memory first, and an export or
/// an analysis reads a million rows. Returns early on an error.
macro_rules! load_streaming {
    ($query:expr, $conn:expr, $row:ty) => {{
        let rows: Box<dyn Iterator<Item = diesel::QueryResult<$row>> + '_> = match $conn {
            #[cfg(feature = "sqlite")]
            $crate::db::connection::AnyConnection::Sqlite(c) => {
                Box::new($query.load_iter::<$row, diesel::connection::DefaultLoadingMode>(c)?)
            }
            #[cfg(feature = "postgres")]
            $crate::db::connection::AnyConnection::Postgres(c) => {
                Box::new($query.load_iter::<$row, diesel::pg::PgRowByRowLoadingMode>(c)?)
            }
        };
        rows
    }};
}
pub(crate) use load_streaming;

/// Which database engine a [`Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &DatabaseUrl) -> Backend {
        match url {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// How many connections a process keeps, and how long a request waits
/// for one (`serve --db-timeout`): past that the resident is told to try
/// again. The same time bounds each attempt to connect to PostgreSQL, so
/// a host that takes the connection and never answers does not hang
/// the start-up either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_size: u32,
    pub connection_timeout: Duration,
}

/// Default of `serve --db-timeout`: long enough for a burst of writers to
/// queue for the pool, short enough that a resident is not left waiting
/// when the database is down.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);

impl PoolSettings {
    /// SQLite: a few readers beside the one writer is all a file gives.
    /// PostgreSQL: writers run side by side, and commits are grouped
    /// when many wait, so more connections turn into more throughput.
    pub fn default_for(backend: Backend) -> PoolSettings {
        PoolSettings {
            max_size: match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 32,
            },
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
        }
    }
}

/// Makes the pool's connections, of the backend the URL names. Diesel's
/// own multi-backend `establish` tries each backend in turn, which would
/// let SQLite create a file named after a PostgreSQL URL that failed.
#[derive(Debug)]
pub(super) struct Manager {
    url: DatabaseUrl,
    /// libpq's `connect_timeout`, in whole seconds, unless the URL sets one.
    connect_timeout: u64,
    /// Set while connections fail (see [`LogConnectFailure`]), so that the
    /// first one that succeeds again is logged.
    failing: Arc<AtomicBool>,
}

impl Manager {
    fn new(url: &DatabaseUrl, settings: PoolSettings) -> Manager {
        Manager {
            url: url.clone(),
            // libpq counts whole seconds and takes 2 as its least.
            connect_timeout: settings.connection_timeout.as_secs().max(2),
            failing: Default::default(),
        }
    }
}

/// `url` with libpq's `connect_timeout` set, unless it sets one itself:
/// without it libpq waits as long as the operating system does (minutes)
/// for a host that takes the connection but never answers.
#[cfg(feature = "postgres")]
fn with_connect_timeout(url: &str, seconds: u64) -> String {
    if url.contains("connect_timeout=") {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={seconds}")
}

/// A message of the driver on one line: libpq's span several ("… failed:
/// Connection refused\n\tIs the server running …?"), and a log line or an
/// error printed at start-up should stay one.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Logs each connection of the pool that fails, to connect or when
/// checked before use, as one line naming the database (r2d2's own
/// handler logs the driver's message bare, over several lines). The pool
/// keeps trying to connect while the database is away; the first
/// connection made after that is logged too (`Manager::connect`).
#[derive(Debug)]
struct LogConnectFailure {
    url: String,
    failing: Arc<AtomicBool>,
}

impl diesel::r2d2::HandleError<diesel::r2d2::Error> for LogConnectFailure {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        self.failing.store(true, Ordering::Relaxed);
        log::error!(
            "connection to the database {} failed: {}",
            self.url,
            one_line(&error.to_string())
        );
    }
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, diesel::r2d2::Error> {
        let conn = self.connect_once()?;
        if self.failing.swap(false, Ordering::Relaxed) {
            log::info!("connected to the database {} again", self.url);
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

impl Manager {
    fn connect_once(&self) -> Result<AnyConnection, diesel::r2d2::Error> {
        use diesel::r2d2::Error;
        match &self.url {
            #[cfg(feature = "sqlite")]
            DatabaseUrl::Sqlite(path) => {
                use_multithread_mode();
                let mut conn =
                    diesel::SqliteConnection::establish(&path.to_string_lossy()).map_err(Error::ConnectionError)?;
                // `synchronous = FULL`: each commit is on disk before the
                // resident sees the thank-you page (see README, Durability).
                conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
                    .map_err(Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => {
                let conn = diesel::PgConnection::establish(&with_connect_timeout(url, self.connect_timeout))
                    .map_err(Error::ConnectionError)?;
                Ok(AnyConnection::Postgres(conn))
            }
            #[allow(unreachable_patterns)]
            other => Err(Error::ConnectionError(diesel::ConnectionError::BadConnection(format!(
                "{other}: this build has no driver for it"
            )))),
        }
    }
}

/// One connection of its own to `url`, outside any pool: for tools and
/// tests that speak SQL themselves, as another program on the server would.
pub fn raw_connection(url: &DatabaseUrl) -> Result<AnyConnection, DbError> {
    Manager::new(url, PoolSettings::default_for(Backend::of(url)))
        .connect()
        .map_err(|e| open_failed(url, &e))
}

/// Why `url` could not be opened, on one line, with what to check when
/// SQLite says no more than that it could not open the file.
fn open_failed(url: &DatabaseUrl, error: &diesel::r2d2::Error) -> DbError {
    let mut message = one_line(&error.to_string());
    if let DatabaseUrl::Sqlite(path) = url {
        if path.is_dir() {
            message = format!("{} is a folder; give the path of a database file in it", path.display());
        } else if message.contains("unable to open") || message.contains("readonly") {
            message.push_str(
                " (this user must be able to create and write the file and the -wal and -shm files beside it)",
            );
        }
    }
    DbError::Open {
        url: url.to_string(),
        message,
    }
}

/// SQLite serialises every call on a connection with a mutex unless told
/// otherwise. The pool hands each connection to one thread at a time, so
/// that locking is pure overhead (5% of an index run over a million
/// respondents). Multi-thread mode must be chosen before SQLite starts, so
/// this runs once, before the first connection is opened.
#[cfg(feature = "sqlite")]
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

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool<Manager>,
    backend: Backend,
    url: Arc<DatabaseUrl>,
    /// Stores resident submissions in batches, one commit each. SQLite
    /// admits one writer at a time and makes the others sleep and retry
    /// with growing pauses, so every other write of this process takes its
    /// turn from the same thread, in order. PostgreSQL's other writers run
    /// side by side.
    writer: Arc<GroupCommit>,
}

impl Database {
    /// Open the database, creating an SQLite file if needed, and bring
    /// its schema up to date: what the server and every command that
    /// writes do.
    pub fn open(url: &DatabaseUrl) -> Result<Database, DbError> {
        Database::open_with(url, PoolSettings::default_for(Backend::of(url)))
    }

    /// [`Database::open`] with the pool's settings.
    pub fn open_with(url: &DatabaseUrl, settings: PoolSettings) -> Result<Database, DbError> {
        let db = Database::connect(url, settings)?;
        db.check_writable()?;
        db.migrate()?;
        Ok(db)
    }

    /// Fail now if the database takes no writes: SQLite opens a file it may
    /// not write (a read-only filesystem, say) read-only without a word,
    /// and PostgreSQL may be a standby; either way the server would start
    /// and then fail every submission.
    fn check_writable(&self) -> Result<(), DbError> {
        let refused = |message: String| DbError::Open {
            url: self.url.to_string(),
            message,
        };
        let mut conn = self.conn()?;
        match &mut *conn {
            #[cfg(feature = "sqlite")]
            // A real write, undone: a read-only connection of a WAL file
            // even begins a write transaction.
            AnyConnection::Sqlite(c) => c
                .batch_execute("BEGIN IMMEDIATE; CREATE TABLE civicpulse_write_check (x); ROLLBACK;")
                .map_err(|e| {
                    let _ = c.batch_execute("ROLLBACK;");
                    refused(format!(
                        "it cannot be written: {e} (this user must be able to create and write the file and \
                         the -wal and -shm files beside it, on a filesystem mounted read-write)"
                    ))
                }),
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(c) => {
                #[derive(diesel::QueryableByName)]
                struct Setting {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    value: String,
                }
                let setting: Setting =
                    diesel::sql_query("SELECT current_setting('transaction_read_only') AS value").get_result(c)?;
                if setting.value == "on" {
                    return Err(refused(
                        "it takes no writes (a standby, or default_transaction_read_only is on); give the primary"
                            .into(),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Open a database whose schema is up to date, writing nothing: what
    /// read-only commands (`indices`, `export`, …) do. An SQLite file must
    /// exist already.
    pub fn open_existing(url: &DatabaseUrl) -> Result<Database, DbError> {
        if let DatabaseUrl::Sqlite(path) = url {
            if !path.is_file() {
                return Err(DbError::Open {
                    url: url.to_string(),
                    message: "there is no database file there; give the path of an existing one \
                              (--database or DATABASE_URL), or create it with `civicpulse migrate`"
                        .into(),
                });
            }
        }
        let db = Database::connect(url, PoolSettings::default_for(Backend::of(url)))?;
        let pending = db.pending_migrations()?;
        if pending > 0 {
            return Err(DbError::SchemaBehind {
                url: url.to_string(),
                pending,
            });
        }
        Ok(db)
    }

    /// A pool of connections to `url`, without touching the schema.
    pub fn connect(url: &DatabaseUrl, settings: PoolSettings) -> Result<Database, DbError> {
        let open_error = |message: String| DbError::Open {
            url: url.to_string(),
            message,
        };
        if let DatabaseUrl::Sqlite(path) = url {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(open_error(format!("the folder {} does not exist", parent.display())));
                }
            }
        }
        let manager = Manager::new(url, settings);
        // One attempt first, so that a database that cannot be opened is
        // reported at once, in the driver's words; the pool would retry
        // until its timeout and then report only that it timed out.
        drop(manager.connect().map_err(|e| open_failed(url, &e))?);
        let pool = Pool::builder()
            .max_size(settings.max_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(settings.connection_timeout)
            .error_handler(Box::new(LogConnectFailure {
                url: url.to_string(),
                failing: manager.failing.clone(),
            }))
            .build(manager)
            .map_err(|e| open_error(one_line(&e.to_string())))?;
        Ok(Database {
            pool,
            backend: Backend::of(url),
            url: Arc::new(url.clone()),
            writer: Arc::new(GroupCommit::new(url.clone())),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Apply every migration not applied yet; returns how many ran.
    /// PostgreSQL: under an advisory lock, so that instances started
    /// together do it once, one after the other.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            #[cfg(feature = "sqlite")]
            AnyConnection::Sqlite(c) => {
                // WAL is a property of the file, so it is set here, once,
                // not per connection.
                c.batch_execute("PRAGMA journal_mode = WAL;")?;
                run_migrations(c, SQLITE_MIGRATIONS)?
            }
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(c) => {
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let applied = run_migrations(c, POSTGRES_MIGRATIONS);
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
                applied?
            }
        };
        if applied > 0 {
            log::info!("applied {applied} schema change(s) to {}", self.url);
        }
        Ok(applied)
    }

    /// How many of this build's migrations the database lacks; reads only
    /// (diesel's own check would create its bookkeeping table first).
    pub fn pending_migrations(&self) -> Result<usize, DbError> {
        #[derive(diesel::QueryableByName)]
        struct Applied {
            #[diesel(sql_type = diesel::sql_types::Text)]
            version: String,
        }
        let mut conn = self.conn()?;
        let applied: HashSet<String> =
            match diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load::<Applied>(&mut *conn) {
                Ok(rows) => rows.into_iter().map(|r| r.version).collect(),
                // No bookkeeping table: nothing was ever applied.
                Err(_) => HashSet::new(),
            };
        let migrations = match self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => SQLITE_MIGRATIONS,
            #[cfg(feature = "postgres")]
            Backend::Postgres => POSTGRES_MIGRATIONS,
            #[allow(unreachable_patterns)]
            _ => unreachable!("a database of a backend this build lacks cannot be opened"),
        };
        let all = MigrationSource::<ListingBackend>::migrations(&migrations)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(all
            .iter()
            .filter(|m| !applied.contains(&m.name().version().to_string()))
            .count())
    }

    /// Settings of the database under which a response thanked just
    /// before a power cut could be lost: PostgreSQL's `fsync`,
    /// `synchronous_commit` and `full_page_writes` turned off, as
    /// `name = value`. SQLite's are this program's own (`synchronous =
    /// FULL` on every connection), so none.
    pub fn unsafe_settings(&self) -> Result<Vec<String>, DbError> {
        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        let mut conn = self.conn()?;
        let mut found = Vec::new();
        for name in ["fsync", "synchronous_commit", "full_page_writes"] {
            let setting: Setting = diesel::sql_query("SELECT current_setting($1) AS value")
                .bind::<diesel::sql_types::Text, _>(name)
                .get_result(&mut *conn)?;
            if setting.value == "off" {
                found.push(format!("{name} = off"));
            }
        }
        Ok(found)
    }

    pub(super) fn conn(&self) -> Result<Pooled, DbError> {
        Ok(self.pool.get()?)
    }

    /// Run `f` as one write transaction: committed when it returns `Ok`,
    /// rolled back when it returns `Err`.
    ///
    /// SQLite: `BEGIN IMMEDIATE` takes the write lock at once, so nothing
    /// read inside can change before the commit. The process's own writers
    /// wait for their turn from the writer thread (between two batches of
    /// submissions, see `group_commit`) *before* a pooled connection is
    /// checked out, so a burst of writers waits without holding the
    /// connections readers need. `f` must not submit through the writer
    /// thread itself. PostgreSQL: an ordinary READ COMMITTED transaction; writers
    /// run side by side, kept apart by unique keys, `ON CONFLICT`, row
    /// locks of `UPDATE … WHERE` and [`lock_key`].
    pub(super) fn write_tx<T, E>(&self, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<DbError>,
    {
        let _turn = match self.backend {
            Backend::Sqlite => Some(self.writer.turn()?),
            Backend::Postgres => None,
        };
        let mut conn = self.conn()?;
        let conn = &mut *conn;
        begin_write(conn)?;
        match f(conn) {
            Ok(value) => match <AnyConnection as Connection>::TransactionManager::commit_transaction(conn) {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn);
                    Err(e.into())
                }
            },
            Err(e) => {
                let _ = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn);
                Err(e)
            }
        }
    }
}

impl Database {
    /// The writer that stores resident submissions in shared commits
    /// (`group_commit`).
    pub(super) fn group_commit(&self) -> &GroupCommit {
        &self.writer
    }

    /// How the writer has batched submissions so far.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.writer.stats()
    }
}

/// Start a write transaction on the concrete connection, through the
/// transaction manager the multi-backend connection delegates to, so
/// that its commit and rollback find the transaction open.
pub(super) fn begin_write(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    match conn {
        #[cfg(feature = "sqlite")]
        AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        #[cfg(feature = "postgres")]
        AnyConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

fn run_migrations<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    migrations: EmbeddedMigrations,
) -> Result<usize, DbError> {
    conn.run_pending_migrations(migrations)
        .map(|applied| applied.len())
        .map_err(|e| DbError::Migration(e.to_string()))
}

/// Inside a write transaction: wait until no other transaction holds
/// `key`, and hold it until this one ends. For what a unique key cannot
/// guard, such as numbering the next draft of a survey. PostgreSQL: a
/// transaction-scoped advisory lock; SQLite: nothing to do, as its write
/// transactions never overlap.
pub(crate) fn lock_key(conn: &mut Conn, key: &str) -> diesel::QueryResult<()> {
    match conn {
        #[cfg(feature = "sqlite")]
        AnyConnection::Sqlite(_) => Ok(()),
        #[cfg(feature = "postgres")]
        AnyConnection::Postgres(c) => diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(key)
            .execute(c)
            .map(drop),
    }
}
