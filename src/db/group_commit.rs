//! Group commit of resident submissions: one writer thread stores the
//! submissions waiting at any moment in one transaction, commits once (one
//! fsync for all of them) and only then answers each.
//!
//! Committing submissions one by one made the per-transaction costs the
//! limit of how many residents a server could thank per second. On SQLite
//! those are an fsync and a rewrite of every page the transaction touched
//! (the same few pages of `responses`, `answers` and their indexes for
//! every submission), and the hand-over of the one write lock between
//! threads. On PostgreSQL they are the statements themselves: eight round
//! trips per submission, each parsed, planned and run by a server that, on
//! a small machine, shares the cores with us. Batched, they are paid once
//! per batch: while one batch commits the next one gathers, so batches
//! grow with the load and no one waits for a timer.
//!
//! What stays as it was, submission by submission:
//! - durability: a caller is answered only after the commit that holds its
//!   submission returned (SQLite's `synchronous = FULL`, see README);
//! - outcome: each is what it would have been had the batch's submissions
//!   been stored one after the other in arrival order (a double tap in the
//!   same batch is a duplicate, a burst counts the batch's earlier ones);
//!   SQLite runs each in a savepoint of its own through the same code as a
//!   single submission; PostgreSQL stores the batch's open-link
//!   submissions with one statement per table
//!   (`responses::insert_web_batch`), and the few it cannot (the same
//!   saved answers submitted twice in one batch) on their own right after;
//! - isolation of failures: on SQLite a submission whose statements fail is
//!   rolled back to its savepoint and answered with its error while the
//!   rest of the batch is committed. Should a batch fail as a whole (on
//!   PostgreSQL any failure does), nothing of it was stored, and each of
//!   its submissions is written again in a transaction of its own, so only
//!   the one at fault fails.
//!
//! On SQLite every other write of the process (`Database::write_tx`: staff
//! actions, imports, saved answers) takes a turn from the same thread,
//! between two batches and in the order asked, so that no two writers of
//! the process ever hold SQLite's write lock at once and none of them meets
//! SQLITE_BUSY. Other processes on the same file are waited for by
//! `busy_timeout`. PostgreSQL's other writers run side by side with the
//! batches, as before.

use super::connection::{begin_write, raw_connection, Backend, Conn};
use super::partials::submit_partial_in;
use super::responses::{insert_web_batch, Inserted, OwnedResponse};
use super::{DatabaseUrl, DbError};
use diesel::connection::{Connection, TransactionManager};
use diesel::r2d2::R2D2Connection;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, OnceLock};

/// The most submissions in one transaction: more than every connection of
/// a busy server sends at once, few enough that the first of them is not
/// kept long.
const MAX_BATCH: usize = 256;

/// The group-commit writer of one database; its thread starts with the
/// first write and ends when the last handle is dropped.
pub(super) struct GroupCommit {
    url: DatabaseUrl,
    requests: OnceLock<Sender<Request>>,
    stats: Arc<Counters>,
}

/// What the writer thread is asked for.
enum Request {
    /// A submission, stored with the next batch.
    Submit(Pending),
    /// Another writer's turn (SQLite), between two batches: the writer says
    /// `go` and waits until `done` is closed.
    Turn { go: SyncSender<()>, done: Receiver<()> },
}

/// While held, this thread may write to the database; the writer thread
/// waits until it is dropped (also when its holder panics).
pub(super) struct Turn {
    _done: SyncSender<()>,
}

/// A submission in the writer's hands.
pub(super) struct Pending {
    /// The saved answers it completes, if any.
    pub(super) partial: Option<i64>,
    pub(super) response: OwnedResponse,
    reply: SyncSender<Result<Inserted, DbError>>,
}

/// How the writer has batched, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions written for submissions (a batch written again one by
    /// one counts once).
    pub batches: u64,
    /// Submissions taken into them.
    pub submissions: u64,
    /// The most submissions in one transaction.
    pub largest_batch: u64,
    /// Batches that failed as a whole and were written again one
    /// submission per transaction.
    pub failed_batches: u64,
    /// Submissions sent to the writer and not yet taken into a batch.
    pub queued: usize,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    submissions: AtomicU64,
    largest_batch: AtomicU64,
    failed_batches: AtomicU64,
    queued: AtomicUsize,
}

impl GroupCommit {
    pub(super) fn new(url: DatabaseUrl) -> GroupCommit {
        GroupCommit {
            url,
            requests: OnceLock::new(),
            stats: Arc::default(),
        }
    }

    /// Store `response` (completing the saved answers `partial`) with the
    /// next batch; its outcome once that batch is committed.
    pub(super) fn submit(&self, partial: Option<i64>, response: OwnedResponse) -> Result<Inserted, DbError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let sent = self.send(Request::Submit(Pending {
            partial,
            response,
            reply,
        }));
        if let Err(e) = sent {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(e);
        }
        answer.recv().map_err(|_| DbError::WriterStopped)?
    }

    /// Wait until no batch is being written, and keep the writer from
    /// starting another until the returned turn is dropped.
    pub(super) fn turn(&self) -> Result<Turn, DbError> {
        let (go, granted) = mpsc::sync_channel(1);
        let (done, finished) = mpsc::sync_channel(0);
        self.send(Request::Turn { go, done: finished })?;
        granted.recv().map_err(|_| DbError::WriterStopped)?;
        Ok(Turn { _done: done })
    }

    pub(super) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.stats.batches.load(Ordering::Relaxed),
            submissions: self.stats.submissions.load(Ordering::Relaxed),
            largest_batch: self.stats.largest_batch.load(Ordering::Relaxed),
            failed_batches: self.stats.failed_batches.load(Ordering::Relaxed),
            queued: self.stats.queued.load(Ordering::Relaxed),
        }
    }

    fn send(&self, request: Request) -> Result<(), DbError> {
        let requests = self.requests.get_or_init(|| {
            let (sender, receiver) = mpsc::channel();
            let writer = Writer {
                backend: Backend::of(&self.url),
                url: self.url.clone(),
                conn: None,
                stats: self.stats.clone(),
            };
            // Without its thread every write would wait forever, so a
            // failure to start one is not something to carry on from.
            std::thread::Builder::new()
                .name("db-writer".into())
                .spawn(move || writer.run(receiver))
                .expect("the database writer thread starts");
            sender
        });
        requests.send(request).map_err(|_| DbError::WriterStopped)
    }
}

/// Why a batch was not committed.
enum BatchError {
    /// Its transaction could not start: nothing was tried.
    Begin(DbError),
    /// It failed part way or at the commit: nothing of it was stored.
    Batch(DbError),
}

/// The writer thread's own state.
struct Writer {
    backend: Backend,
    url: DatabaseUrl,
    /// Opened at the first batch, and again after one that broke it.
    conn: Option<Conn>,
    stats: Arc<Counters>,
}

impl Writer {
    fn run(mut self, requests: Receiver<Request>) {
        // Until every handle is gone.
        while let Ok(first) = requests.recv() {
            // Everything waiting goes into this batch, up to a turn asked
            // for by another writer, which comes right after it.
            let mut batch = Vec::new();
            let mut turn = None;
            let mut request = Some(first);
            while let Some(r) = request.take() {
                match r {
                    Request::Submit(pending) => batch.push(pending),
                    Request::Turn { go, done } => {
                        turn = Some((go, done));
                        break;
                    }
                }
                if batch.len() < MAX_BATCH {
                    request = requests.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.stats.queued.fetch_sub(batch.len(), Ordering::Relaxed);
                self.store(batch);
            }
            if let Some((go, done)) = turn {
                // Its holder gave up waiting if `go` fails; otherwise wait
                // for the turn to be dropped (`recv` fails when it is).
                if go.send(()).is_ok() {
                    let _ = done.recv();
                }
            }
        }
    }

    /// Write `batch` in one transaction and answer each submission; if the
    /// transaction fails, write them again one per transaction.
    fn store(&mut self, batch: Vec<Pending>) {
        let size = batch.len() as u64;
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats.submissions.fetch_add(size, Ordering::Relaxed);
        self.stats.largest_batch.fetch_max(size, Ordering::Relaxed);
        let result = self.with_transaction(|backend, conn| {
            std::panic::catch_unwind(AssertUnwindSafe(|| match backend {
                Backend::Sqlite => Ok(each_in_savepoint(conn, &batch)),
                Backend::Postgres => {
                    let submissions: Vec<_> = batch.iter().map(|p| (p.partial, p.response.as_new())).collect();
                    let outcomes = insert_web_batch(conn, &submissions)?;
                    Ok(outcomes.into_iter().map(|o| o.map(Ok)).collect())
                }
            }))
            .unwrap_or_else(|_| Err(DbError::WriteFailed("storing a batch panicked".into())))
        });
        match result {
            Ok(outcomes) => {
                let mut later = Vec::new();
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    match outcome {
                        Some(outcome) => answer(pending, outcome),
                        None => later.push(pending),
                    }
                }
                // Left for after the batch (PostgreSQL: saved answers
                // submitted twice in it), in arrival order.
                for pending in later {
                    self.store_alone(pending);
                }
            }
            Err(BatchError::Begin(e)) => {
                log::error!("cannot start writing {size} submission(s): {e}");
                let (message, outage) = (e.to_string(), e.outage());
                for pending in batch {
                    answer(
                        pending,
                        Err(DbError::Shared {
                            message: message.clone(),
                            outage,
                        }),
                    );
                }
            }
            Err(BatchError::Batch(e)) => {
                self.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                if size > 1 {
                    log::warn!("a batch of {size} submissions failed ({e}); writing them one by one");
                }
                for pending in batch {
                    self.store_alone(pending);
                }
            }
        }
    }

    /// One submission in a transaction of its own, answered.
    fn store_alone(&mut self, pending: Pending) {
        let result = self.with_transaction(|_, conn| {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                submit_partial_in(conn, pending.partial, &pending.response.as_new())
            }))
            .unwrap_or_else(|_| Err(DbError::WriteFailed("storing a submission panicked".into())))
        });
        let outcome = result.map_err(|(BatchError::Begin(e) | BatchError::Batch(e))| e);
        answer(pending, outcome);
    }

    /// `write` in one write transaction on the writer's connection,
    /// committed when it returns `Ok`. On failure the transaction is rolled
    /// back, and a connection it left unusable is closed (the next batch
    /// opens another).
    fn with_transaction<T>(
        &mut self,
        write: impl FnOnce(Backend, &mut Conn) -> Result<T, DbError>,
    ) -> Result<T, BatchError> {
        if self.conn.is_none() {
            self.conn = Some(raw_connection(&self.url).map_err(BatchError::Begin)?);
        }
        let conn = self.conn.as_mut().expect("opened above");
        if let Err(e) = begin_write(conn) {
            if conn.is_broken() {
                self.conn = None;
            }
            return Err(BatchError::Begin(e.into()));
        }
        let result = write(self.backend, conn).and_then(|value| {
            // A savepoint left open (a submission that panicked in it, or
            // one that could not be rolled back to) would turn the commit
            // into its release.
            if transaction_depth(conn)? != 1 {
                return Err(DbError::WriteFailed("a savepoint of the batch was left open".into()));
            }
            <Conn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        });
        if result.is_err() {
            while transaction_depth(conn).is_ok_and(|depth| depth > 0) {
                if <Conn as Connection>::TransactionManager::rollback_transaction(conn).is_err() {
                    break;
                }
            }
            // Still in a transaction, or the transaction manager in error.
            if conn.is_broken() {
                self.conn = None;
            }
        }
        result.map_err(BatchError::Batch)
    }
}

/// SQLite: each submission in a savepoint of the open transaction, through
/// the same code as a submission on its own. A submission that fails is
/// rolled back to its savepoint and keeps its error; a savepoint that
/// cannot be closed fails the batch (see `Writer::with_transaction`).
fn each_in_savepoint(conn: &mut Conn, batch: &[Pending]) -> Vec<Option<Result<Inserted, DbError>>> {
    let mut outcomes = Vec::with_capacity(batch.len());
    for pending in batch {
        // Nested in the batch's transaction, diesel's `transaction` is a
        // savepoint: released on `Ok`, rolled back to on `Err`.
        let outcome = conn.transaction(|c| submit_partial_in(c, pending.partial, &pending.response.as_new()));
        outcomes.push(Some(outcome));
    }
    outcomes
}

/// Answer a caller; it may have stopped waiting, and then there is no one
/// to tell.
fn answer(pending: Pending, outcome: Result<Inserted, DbError>) {
    let _ = pending.reply.send(outcome);
}

/// How many transactions and savepoints are open on `conn`.
fn transaction_depth(conn: &mut Conn) -> diesel::QueryResult<u32> {
    let depth = <Conn as Connection>::TransactionManager::transaction_manager_status_mut(conn).transaction_depth()?;
    Ok(depth.map_or(0, |d| d.get()))
}
