//! Computed indices kept for the next caller. A city-sized wave takes a
//! second or more to estimate, and a dashboard asks for the same few
//! reports again and again; a report is kept under (survey, options, data
//! generation), so it is served only while nothing it rests on has changed
//! (the caller reads the generation first, one cheap query, see
//! [`crate::db::Database::data_generation`]).
//!
//! - Bounded by entries and by approximate bytes; the least recently used
//!   go first.
//! - Single-flight: callers asking for a report being computed wait for it
//!   instead of computing it again. A failure is handed to the callers
//!   waiting then, and not kept.
//!
//! The cache knows nothing of how reports are computed or admitted: the
//! caller hands it the computation (the server's runs under its bound on
//! computations at once).

use super::options::IndexOptions;
use super::report::IndexReport;
use crate::db::DataGeneration;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What a kept report answers: a survey, the options that decide the
/// figures (see [`IndexOptions::canonical_key`]), and the generation of
/// the data it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    slug: String,
    options: String,
    generation: DataGeneration,
}

impl CacheKey {
    /// The key of `options` on `slug` when its data are at `generation`
    /// (the survey's; only what the options' wave depends on is kept).
    pub fn new(slug: &str, options: &IndexOptions, generation: &DataGeneration) -> CacheKey {
        CacheKey {
            slug: slug.to_string(),
            options: options.canonical_key(),
            generation: generation.for_wave(options.wave),
        }
    }

    /// The same question about the same survey, at whatever generation.
    fn same_question(&self, other: &CacheKey) -> bool {
        self.slug == other.slug && self.options == other.options
    }
}

/// How much the cache may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    pub entries: usize,
    /// Approximate: each report counts its JSON size.
    pub bytes: usize,
}

impl Default for CacheLimits {
    /// A dashboard page needs a handful of reports (a wave by groups, the
    /// previous wave, every wave's city-wide figures); a report by
    /// district is about 100 kB. Room for many pages and option sets.
    fn default() -> CacheLimits {
        CacheLimits {
            entries: 512,
            bytes: 64 << 20,
        }
    }
}

/// What the cache has done since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reports computed (successfully or not) by a caller of the cache.
    pub computed: u64,
    /// Requests answered from a kept report.
    pub hits: u64,
    /// Requests that waited for another caller's computation of the same report.
    pub shared: u64,
    pub entries: usize,
    pub bytes: usize,
}

/// The result a computation hands to the callers waiting for it.
type Outcome<E> = Option<Result<Arc<IndexReport>, E>>;

enum Slot<E> {
    Ready {
        report: Arc<IndexReport>,
        bytes: usize,
        used: u64,
    },
    Pending(watch::Receiver<Outcome<E>>),
}

struct Inner<E> {
    slots: HashMap<CacheKey, Slot<E>>,
    bytes: usize,
    /// A clock of uses, for least-recently-used eviction.
    tick: u64,
}

/// Kept reports, bounded; `E` is the error a computation may end in
/// (cloned to every caller that waited for it).
pub struct ResultCache<E> {
    inner: Mutex<Inner<E>>,
    limits: CacheLimits,
    computed: AtomicU64,
    hits: AtomicU64,
    shared: AtomicU64,
}

impl<E: Clone> ResultCache<E> {
    pub fn new(limits: CacheLimits) -> ResultCache<E> {
        ResultCache {
            inner: Mutex::new(Inner {
                slots: HashMap::new(),
                bytes: 0,
                tick: 0,
            }),
            limits,
            computed: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            shared: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<E>> {
        // The map is consistent between statements; a panic elsewhere
        // while it was held leaves nothing half-done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            computed: self.computed.load(Ordering::SeqCst),
            hits: self.hits.load(Ordering::SeqCst),
            shared: self.shared.load(Ordering::SeqCst),
            entries: inner.slots.values().filter(|s| matches!(s, Slot::Ready { .. })).count(),
            bytes: inner.bytes,
        }
    }

    /// The report kept under `key`; else the one being computed for it,
    /// once done; else `compute`'s, kept when it succeeds.
    pub async fn get_or_compute<F, Fut>(&self, key: CacheKey, compute: F) -> Result<Arc<IndexReport>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<IndexReport, E>>,
    {
        loop {
            let waiting = {
                let mut inner = self.lock();
                inner.tick += 1;
                let now = inner.tick;
                match inner.slots.get_mut(&key) {
                    Some(Slot::Ready { report, used, .. }) => {
                        *used = now;
                        self.hits.fetch_add(1, Ordering::SeqCst);
                        return Ok(report.clone());
                    }
                    Some(Slot::Pending(receiver)) => receiver.clone(),
                    None => break,
                }
            };
            if let Some(outcome) = wait(waiting).await {
                self.shared.fetch_add(1, Ordering::SeqCst);
                return outcome;
            }
            // The computing caller went away before it finished (its
            // request was dropped); the next in line computes.
        }
        let (sender, receiver) = watch::channel(None);
        let mut pending = PendingGuard {
            cache: self,
            key: Some(key.clone()),
        };
        self.lock().slots.insert(key.clone(), Slot::Pending(receiver));
        self.computed.fetch_add(1, Ordering::SeqCst);
        let outcome = compute().await.map(Arc::new);
        pending.key = None;
        {
            let mut inner = self.lock();
            inner.slots.remove(&key);
            if let Ok(report) = &outcome {
                self.keep(&mut inner, key, report.clone());
            }
        }
        // Nobody waiting is no error.
        let _ = sender.send(Some(outcome.clone()));
        outcome
    }

    /// Keep `report`, making room by dropping the least recently used.
    fn keep(&self, inner: &mut Inner<E>, key: CacheKey, report: Arc<IndexReport>) {
        let bytes = approximate_bytes(&report);
        // Reports of the same question at an older generation can never be
        // asked for again: generations only grow.
        let stale: Vec<CacheKey> = inner
            .slots
            .iter()
            .filter(|(k, s)| matches!(s, Slot::Ready { .. }) && k.same_question(&key))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            remove(inner, &k);
        }
        if bytes > self.limits.bytes || self.limits.entries == 0 {
            return;
        }
        let ready = |inner: &Inner<E>| inner.slots.values().filter(|s| matches!(s, Slot::Ready { .. })).count();
        while ready(inner) >= self.limits.entries || inner.bytes + bytes > self.limits.bytes {
            let oldest = inner
                .slots
                .iter()
                .filter_map(|(k, s)| match s {
                    Slot::Ready { used, .. } => Some((*used, k)),
                    Slot::Pending(_) => None,
                })
                .min_by_key(|(used, _)| *used)
                .map(|(_, k)| k.clone());
            match oldest {
                Some(k) => remove(inner, &k),
                None => break,
            }
        }
        inner.tick += 1;
        let used = inner.tick;
        inner.bytes += bytes;
        inner.slots.insert(key, Slot::Ready { report, bytes, used });
    }
}

fn remove<E>(inner: &mut Inner<E>, key: &CacheKey) {
    if let Some(Slot::Ready { bytes, .. }) = inner.slots.remove(key) {
        inner.bytes -= bytes;
    }
}

/// The outcome another caller computes; `None` when it gave up.
async fn wait<E: Clone>(mut receiver: watch::Receiver<Outcome<E>>) -> Outcome<E> {
    match receiver.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone(),
        Err(_) => None,
    }
}

/// Takes a computation's place back out of the cache if its caller is
/// dropped before it finishes, so that the callers waiting for it go on.
struct PendingGuard<'a, E: Clone> {
    cache: &'a ResultCache<E>,
    key: Option<CacheKey>,
}

impl<E: Clone> Drop for PendingGuard<'_, E> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut inner = self.cache.lock();
            if matches!(inner.slots.get(&key), Some(Slot::Pending(_))) {
                inner.slots.remove(&key);
            }
        }
    }
}

/// A report's size as JSON: a fair stand-in for the memory it holds
/// (its rows are mostly numbers and short names either way).
pub fn approximate_bytes(report: &IndexReport) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serialising plain data into memory does not fail; were it to, the
    // part counted still stands for the report.
    let _ = serde_json::to_writer(&mut count, report);
    count.0 + std::mem::size_of::<IndexReport>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{DesignWeights, Selection, Weights};
    use crate::stats::LonelyPsu;
    use std::sync::atomic::AtomicUsize;

    fn report(wave: i32, notes: usize) -> IndexReport {
        IndexReport {
            survey: "livability".into(),
            wave,
            definition: super::super::report::DefinitionUsed {
                version: 1,
                versions_answered: vec![1],
            },
            by: None,
            selection: Selection {
                sources: Vec::new(),
                left_out: Default::default(),
                excluded: None,
                batches: Vec::new(),
            },
            weights: Weights::None,
            design_weights: DesignWeights::None,
            level: 0.95,
            variance: "linearized",
            bootstrap: None,
            lonely_psu: LonelyPsu::Fail,
            raking: None,
            notes: vec!["x".repeat(100); notes],
            rows: Vec::new(),
            population: Vec::new(),
            distributions: None,
        }
    }

    fn generation(waves: &[(i32, i64)]) -> DataGeneration {
        DataGeneration::from_waves(waves.iter().copied())
    }

    fn key(level: f64, generation_of_2026: i64) -> CacheKey {
        let options = IndexOptions {
            wave: Some(2026),
            level,
            ..IndexOptions::default()
        };
        CacheKey::new(
            "livability",
            &options,
            &generation(&[(2025, 7), (2026, generation_of_2026)]),
        )
    }

    type Cache = ResultCache<String>;

    async fn get(cache: &Cache, key: CacheKey, computations: &AtomicUsize) -> Result<Arc<IndexReport>, String> {
        cache
            .get_or_compute(key, || async {
                computations.fetch_add(1, Ordering::SeqCst);
                Ok(report(2026, 0))
            })
            .await
    }

    #[test]
    fn keys_are_canonical_and_follow_only_their_waves_generation() {
        assert_eq!(key(0.95, 3), key(0.950, 3));
        assert_ne!(key(0.95, 3), key(0.9, 3), "another level is another report");
        assert_ne!(key(0.95, 3), key(0.95, 4), "new data make a new key");
        let of = |generation: &DataGeneration, wave| {
            let options = IndexOptions {
                wave,
                ..IndexOptions::default()
            };
            CacheKey::new("livability", &options, generation)
        };
        let before = generation(&[(2025, 7), (2026, 3)]);
        let after = generation(&[(2025, 8), (2026, 3)]);
        assert_eq!(
            of(&before, Some(2026)),
            of(&after, Some(2026)),
            "a change in 2025 leaves 2026's figures standing"
        );
        assert_ne!(of(&before, Some(2025)), of(&after, Some(2025)));
        assert_ne!(
            of(&before, None),
            of(&after, None),
            "the latest wave's figures depend on every wave"
        );
        let other_survey = CacheKey::new("parks", &IndexOptions::default(), &before);
        assert_ne!(other_survey, of(&before, None));
    }

    #[tokio::test]
    async fn a_kept_report_is_served_until_its_generation_moves() {
        let cache = Cache::new(CacheLimits::default());
        let computations = AtomicUsize::new(0);
        let first = get(&cache, key(0.95, 1), &computations).await.unwrap();
        let second = get(&cache, key(0.95, 1), &computations).await.unwrap();
        assert!(Arc::ptr_eq(&first, &second), "the same report, not a copy");
        assert_eq!(computations.load(Ordering::SeqCst), 1);
        get(&cache, key(0.95, 2), &computations).await.unwrap();
        assert_eq!(computations.load(Ordering::SeqCst), 2, "new data are computed");
        let stats = cache.stats();
        assert_eq!((stats.computed, stats.hits, stats.shared), (2, 1, 0));
        assert_eq!(stats.entries, 1, "the older generation's report is dropped");
        assert_eq!(stats.bytes, approximate_bytes(&report(2026, 0)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_of_one_report_compute_it_once() {
        let cache = Arc::new(Cache::new(CacheLimits::default()));
        let computations = Arc::new(AtomicUsize::new(0));
        let (release, released) = watch::channel(false);
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (cache, computations, mut released) = (cache.clone(), computations.clone(), released.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_compute(key(0.95, 1), || async move {
                            computations.fetch_add(1, Ordering::SeqCst);
                            // Held until every caller has asked.
                            released.wait_for(|r| *r).await.unwrap();
                            Ok::<_, String>(report(2026, 0))
                        })
                        .await
                })
            })
            .collect();
        // Every caller but the computing one ends up waiting on it.
        while cache.stats().computed < 1 {
            tokio::task::yield_now().await;
        }
        tokio::task::yield_now().await;
        release.send(true).unwrap();
        let reports: Vec<_> = futures_util::future::join_all(tasks).await;
        let first = reports[0].as_ref().unwrap().as_ref().unwrap().clone();
        for r in &reports {
            assert!(Arc::ptr_eq(r.as_ref().unwrap().as_ref().unwrap(), &first));
        }
        assert_eq!(computations.load(Ordering::SeqCst), 1);
        let stats = cache.stats();
        assert_eq!(stats.computed, 1);
        assert_eq!(stats.hits + stats.shared, 9);
    }

    #[tokio::test]
    async fn failures_reach_the_waiting_callers_and_are_not_kept() {
        let cache = Cache::new(CacheLimits::default());
        let (release, mut released) = watch::channel(false);
        let failing = cache.get_or_compute(key(0.95, 1), || async move {
            released.wait_for(|r| *r).await.unwrap();
            Err("no responses".to_string())
        });
        let waiting = cache.get_or_compute(key(0.95, 1), || async {
            let computed_twice: Result<IndexReport, String> = Err("computed twice".into());
            computed_twice
        });
        let releasing = async {
            tokio::task::yield_now().await;
            release.send(true).unwrap();
        };
        let (a, b, ()) = tokio::join!(failing, waiting, releasing);
        assert_eq!(a.unwrap_err(), "no responses");
        assert_eq!(b.unwrap_err(), "no responses", "the waiter gets the same answer");
        let computations = AtomicUsize::new(0);
        get(&cache, key(0.95, 1), &computations).await.unwrap();
        assert_eq!(computations.load(Ordering::SeqCst), 1, "a failure is computed again");
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_lets_the_next_one_compute() {
        let cache = Cache::new(CacheLimits::default());
        let abandoned = cache.get_or_compute(key(0.95, 1), std::future::pending);
        // Polled once, the computation has started; then its caller leaves.
        assert!(futures_util::FutureExt::now_or_never(abandoned).is_none());
        let computations = AtomicUsize::new(0);
        get(&cache, key(0.95, 1), &computations).await.unwrap();
        assert_eq!(computations.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_least_recently_used_go_first_by_entries_and_by_bytes() {
        let cache = Cache::new(CacheLimits {
            entries: 2,
            bytes: usize::MAX,
        });
        let computations = AtomicUsize::new(0);
        for level in [0.80, 0.90] {
            get(&cache, key(level, 1), &computations).await.unwrap();
        }
        get(&cache, key(0.80, 1), &computations).await.unwrap(); // 0.80 is now the newer
        get(&cache, key(0.95, 1), &computations).await.unwrap(); // 0.90 must go
        assert_eq!(cache.stats().entries, 2);
        get(&cache, key(0.80, 1), &computations).await.unwrap();
        assert_eq!(computations.load(Ordering::SeqCst), 3, "0.80 was kept");
        get(&cache, key(0.90, 1), &computations).await.unwrap();
        assert_eq!(computations.load(Ordering::SeqCst), 4, "0.90 was not");

        let one = approximate_bytes(&report(2026, 50));
        let by_bytes = Cache::new(CacheLimits {
            entries: 100,
            bytes: 2 * one + one / 2,
        });
        for level in [0.80, 0.90, 0.95] {
            by_bytes
                .get_or_compute(key(level, 1), || async { Ok(report(2026, 50)) })
                .await
                .unwrap();
        }
        let stats = by_bytes.stats();
        assert_eq!((stats.entries, stats.bytes), (2, 2 * one));
        let huge = Cache::new(CacheLimits {
            entries: 100,
            bytes: one - 1,
        });
        huge.get_or_compute(key(0.95, 1), || async { Ok(report(2026, 50)) })
            .await
            .unwrap();
        assert_eq!(
            huge.stats().entries,
            0,
            "a report larger than the cache is served, not kept"
        );
    }
}
