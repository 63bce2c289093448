//! Stopping a long computation from outside. The server cancels an
//! analysis whose client has gone away, or that has run past its time
//! limit, so that abandoned work does not hold a thread and an analysis
//! turn. The engine only looks at the handle between units of work (one
//! bootstrap replicate); it never reads a clock of its own beyond the
//! deadline it is given.

use super::error::StatsError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A handle the caller keeps and the computation checks. The default one
/// never stops anything.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Option<Arc<Handle>>);

#[derive(Debug)]
struct Handle {
    stopped: AtomicBool,
    deadline: Option<Instant>,
}

impl Cancel {
    /// A handle that stops the computation when [`Cancel::cancel`] is
    /// called, or once `deadline` has passed.
    pub fn new(deadline: Option<Instant>) -> Cancel {
        Cancel(Some(Arc::new(Handle {
            stopped: AtomicBool::new(false),
            deadline,
        })))
    }

    /// Ask the computation to stop at its next check.
    pub fn cancel(&self) {
        if let Some(handle) = &self.0 {
            handle.stopped.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the deadline has passed (so a stop was the clock's, not the caller's).
    pub fn timed_out(&self) -> bool {
        self.0
            .as_ref()
            .and_then(|h| h.deadline)
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// `Err(StatsError::Cancelled)` once cancelled or past the deadline.
    pub fn check(&self) -> Result<(), StatsError> {
        match &self.0 {
            Some(handle) if handle.stopped.load(Ordering::Relaxed) || self.timed_out() => Err(StatsError::Cancelled),
            _ => Ok(()),
        }
    }
}

/// Two handles are the same when they stop the same computation.
impl PartialEq for Cancel {
    fn eq(&self, other: &Cancel) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Cancel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_stops_when_cancelled_or_past_its_deadline() {
        assert!(Cancel::default().check().is_ok());
        let handle = Cancel::new(None);
        assert!(handle.check().is_ok());
        handle.clone().cancel();
        assert_eq!(handle.check(), Err(StatsError::Cancelled));
        assert!(!handle.timed_out());
        let late = Cancel::new(Some(Instant::now()));
        assert!(late.timed_out() && late.check().is_err());
    }
}
