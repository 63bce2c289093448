//! Per-client rate limits, and the bounds on password hashing and on
//! index computations running at once.
//!
//! A client is a keyed hash of its network address (an IPv6 address by
//! its /64, what one subscriber usually gets), under a random key that
//! lives only in memory and changes every day: the limiter can tell
//! today's clients apart, and nothing anywhere can turn its entries back
//! into addresses. Nothing of it is stored with answers or on disk.
//!
//! Behind a reverse proxy every request comes from the proxy, so the
//! client's address is taken from `X-Forwarded-For` or `Forwarded` only
//! when the peer is a proxy named with `--trusted-proxy`; anyone else
//! could write those headers themselves.
//!
//! The limiter keeps its state behind [`RateLimiter`], so that several
//! instances can share it through the database later.

use crate::crypto::hmac_sha256;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a client is doing, each with its own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Sending a resident form.
    Submit,
    /// Entering an invitation code (against guessing).
    Code,
    /// Saving a section page of the form (so a flood cannot fill the
    /// table of partial responses).
    Save,
    /// Typing a resume code (against guessing).
    Resume,
    /// Signing in (against password guessing).
    SignIn,
    /// Calling the statistics API.
    Api,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Submit,
        Action::Code,
        Action::Save,
        Action::Resume,
        Action::SignIn,
        Action::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::Code => "code",
            Action::Save => "save",
            Action::Resume => "resume",
            Action::SignIn => "signin",
            Action::Api => "api",
        }
    }
}

/// A limit: `per_hour` on average, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_hour: u32,
    pub burst: u32,
}

impl Limit {
    /// A limit whose burst is ten minutes' worth (at least 3).
    pub fn per_hour(per_hour: u32) -> Limit {
        Limit {
            per_hour,
            burst: (per_hour / 6).max(3),
        }
    }
}

/// The limits of every action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub submit: Limit,
    pub code: Limit,
    pub save: Limit,
    pub resume: Limit,
    pub sign_in: Limit,
    pub api: Limit,
}

impl Default for Limits {
    /// Generous for honest use (a household, an office, a community
    /// centre helping residents on one connection), tight for a script.
    fn default() -> Limits {
        Limits {
            submit: Limit {
                per_hour: 120,
                burst: 20,
            },
            code: Limit {
                per_hour: 30,
                burst: 10,
            },
            // A resident saves about ten pages (more with Back and
            // changes); a household or an office shares a connection.
            save: Limit {
                per_hour: 1200,
                burst: 200,
            },
            resume: Limit {
                per_hour: 30,
                burst: 10,
            },
            sign_in: Limit {
                per_hour: 30,
                burst: 10,
            },
            api: Limit {
                per_hour: 3600,
                burst: 120,
            },
        }
    }
}

impl Limits {
    pub fn get(&self, action: Action) -> Limit {
        match action {
            Action::Submit => self.submit,
            Action::Code => self.code,
            Action::Save => self.save,
            Action::Resume => self.resume,
            Action::SignIn => self.sign_in,
            Action::Api => self.api,
        }
    }

    fn set(&mut self, action: Action, limit: Limit) {
        match action {
            Action::Submit => self.submit = limit,
            Action::Code => self.code = limit,
            Action::Save => self.save = limit,
            Action::Resume => self.resume = limit,
            Action::SignIn => self.sign_in = limit,
            Action::Api => self.api = limit,
        }
    }

    /// Apply `--rate-limit ACTION=N/h` (or `/m`, `/d`) settings.
    pub fn with(mut self, settings: &[LimitSetting]) -> Limits {
        for s in settings {
            self.set(s.action, s.limit);
        }
        self
    }
}

/// One `--rate-limit` flag: `submit=120/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSetting {
    pub action: Action,
    pub limit: Limit,
}

impl FromStr for LimitSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<LimitSetting, String> {
        let usage =
            || format!("{s:?}: write ACTION=N/h (or /m, /d), ACTION one of submit, code, save, resume, signin, api");
        let (action, rate) = s.split_once('=').ok_or_else(usage)?;
        let action = Action::ALL
            .into_iter()
            .find(|a| a.as_str() == action.trim())
            .ok_or_else(usage)?;
        let (n, period) = rate.split_once('/').ok_or_else(usage)?;
        let n: u32 = n.trim().parse().map_err(|_| usage())?;
        let per_hour = match period.trim() {
            "h" => n,
            "m" => n.saturating_mul(60),
            "d" => n.div_ceil(24),
            _ => return Err(usage()),
        };
        if per_hour == 0 {
            return Err(format!("{s:?}: a limit must admit at least one request"));
        }
        Ok(LimitSetting {
            action,
            limit: Limit::per_hour(per_hour),
        })
    }
}

/// A client as the limiter knows it: a keyed hash of its address.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey([u8; 16]);

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientKey({})", hex::encode(&self.0[..4]))
    }
}

/// Turns addresses into [`ClientKey`]s under a key that changes daily.
pub struct ClientIdentifier {
    trusted_proxies: Vec<IpAddr>,
    key: Mutex<(i64, [u8; 32])>,
}

impl ClientIdentifier {
    pub fn new(trusted_proxies: Vec<IpAddr>) -> ClientIdentifier {
        ClientIdentifier {
            trusted_proxies,
            key: Mutex::new((i64::MIN, [0; 32])),
        }
    }

    /// The client's address: the peer's, or, when the peer is a trusted
    /// proxy, the nearest untrusted address the proxies report.
    pub fn address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let mut hops = forwarded_addresses(req);
        // The rightmost address was added by our proxy, the one before by
        // a proxy before it, and so on: the first one not ours is the client.
        while let Some(hop) = hops.pop() {
            if !self.trusted_proxies.contains(&hop) {
                return Some(hop);
            }
        }
        Some(peer)
    }

    pub fn key(&self, req: &HttpRequest) -> ClientKey {
        let address = self.address(req);
        let day = time::OffsetDateTime::now_utc().unix_timestamp().div_euclid(86_400);
        let secret = {
            let mut guard = self.key.lock().unwrap_or_else(|p| p.into_inner());
            if guard.0 != day {
                let mut fresh = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut fresh);
                *guard = (day, fresh);
            }
            guard.1
        };
        let bytes: Vec<u8> = match address {
            Some(IpAddr::V4(v4)) => v4.octets().to_vec(),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.octets().to_vec(),
                None => v6.octets()[..8].to_vec(),
            },
            None => Vec::new(),
        };
        let mac = hmac_sha256(&secret, &[&bytes]);
        ClientKey(mac[..16].try_into().expect("16 bytes"))
    }
}

/// Addresses from `Forwarded: for=` or else `X-Forwarded-For`, in order.
fn forwarded_addresses(req: &HttpRequest) -> Vec<IpAddr> {
    let headers = req.headers();
    let forwarded: Vec<IpAddr> = headers
        .get_all(actix_web::http::header::FORWARDED)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                if !k.trim().eq_ignore_ascii_case("for") {
                    return None;
                }
                let v = v.trim().trim_matches('"');
                let v = v
                    .strip_prefix('[')
                    .map_or(v, |rest| rest.split(']').next().unwrap_or(rest));
                v.parse::<IpAddr>()
                    .ok()
                    .or_else(|| v.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok()))
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect()
}

/// Where limits are kept. In memory for one instance; a shared store lets
/// several instances hold one client to one limit.
pub trait RateLimiter: Send + Sync {
    /// Count one `action` by `client` now; `Err(wait)` when it is over its
    /// limit, with how long until it may try again.
    fn take(&self, action: Action, client: ClientKey, limit: Limit, now: Instant) -> Result<(), Duration>;
    /// Record a failed sign-in by `client`; returns how long it is now
    /// locked out, if at all (see `account::lockout_after`).
    fn sign_in_failed(&self, client: ClientKey, now: Instant) -> Option<Duration>;
    /// How long `client` is still locked out of signing in.
    fn sign_in_locked(&self, client: ClientKey, now: Instant) -> Option<Duration>;
    /// A successful sign-in ends the client's run of failures.
    fn sign_in_succeeded(&self, client: ClientKey);
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    at: Instant,
}

/// Token buckets and failure counts in this process's memory.
#[derive(Default)]
pub struct MemoryLimiter {
    buckets: Mutex<HashMap<(Action, ClientKey), Bucket>>,
    failures: Mutex<HashMap<ClientKey, Failures>>,
}

/// Entries kept before idle ones are swept.
const SWEEP_ABOVE: usize = 50_000;

impl MemoryLimiter {
    pub fn new() -> MemoryLimiter {
        MemoryLimiter::default()
    }
}

impl RateLimiter for MemoryLimiter {
    fn take(&self, action: Action, client: ClientKey, limit: Limit, now: Instant) -> Result<(), Duration> {
        let per_token = 3600.0 / f64::from(limit.per_hour.max(1));
        let capacity = f64::from(limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            // A bucket refilled to the brim holds nothing worth keeping.
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < capacity * per_token);
        }
        let bucket = buckets.entry((action, client)).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() / per_token;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) * per_token).max(Duration::from_secs(1)))
        }
    }

    fn sign_in_failed(&self, client: ClientKey, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > SWEEP_ABOVE {
            let hour = Duration::from_secs(3600);
            failures.retain(|_, f| now.duration_since(f.at) < hour);
        }
        let entry = failures.entry(client).or_insert(Failures {
            count: 0,
            locked_until: None,
            at: now,
        });
        // A day without failures starts the count again.
        if now.duration_since(entry.at) > Duration::from_secs(86_400) {
            entry.count = 0;
        }
        entry.count += 1;
        entry.at = now;
        let lockout =
            crate::account::lockout_after(entry.count).map(|d| Duration::from_secs(d.whole_seconds().max(0) as u64));
        entry.locked_until = lockout.map(|d| now + d);
        lockout
    }

    fn sign_in_locked(&self, client: ClientKey, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures
            .get(&client)
            .and_then(|f| f.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    fn sign_in_succeeded(&self, client: ClientKey) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&client);
    }
}

/// Bounds how many password hashes run at once, and the memory they take.
/// Each Argon2 check needs 19 MiB; the gate keeps at most one buffer per
/// permit and uses it again for every check, so a burst
/// of sign-ins waits here, holding no memory, and the checks themselves
/// never allocate (allocating 19 MiB per check on whichever blocking
/// thread runs it left the allocator holding gigabytes after a burst).
pub struct HashGate {
    admission: Admission,
    memories: std::sync::Mutex<Vec<crate::account::HashMemory>>,
}

/// At most `size` jobs at once and `max_waiting` in line: beyond that a
/// caller is told the server is busy instead of queueing without end.
pub struct Admission {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    size: usize,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
    gauge: std::sync::Arc<Gauge>,
}

/// How many jobs hold a turn now, and the most that ever did at once.
#[derive(Debug, Default)]
struct Gauge {
    running: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

/// A turn at the gate, held for as long as the job runs: it owns its
/// permit, so it can move onto the thread that does the work and is given
/// back only when that work ends, even if the request that asked for it
/// went away.
#[derive(Debug)]
pub struct Turn {
    _permit: tokio::sync::OwnedSemaphorePermit,
    gauge: std::sync::Arc<Gauge>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.gauge.running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Admission {
    pub fn new(size: usize, max_waiting: usize) -> Admission {
        let size = size.max(1);
        Admission {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(size)),
            size,
            waiting: Default::default(),
            max_waiting,
            gauge: Default::default(),
        }
    }

    /// Index computations: each runs two worker threads, so half as many
    /// at once as this machine has cores (at least one) keeps a crowd
    /// opening pages from starting more threads than there are cores.
    pub fn for_analyses() -> Admission {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Admission::new(cores / 2, 64)
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Jobs holding a turn now.
    pub fn running(&self) -> usize {
        self.gauge.running.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The most jobs that ever held a turn at the same time: never more
    /// than [`Self::size`] (what the tests of the bound read).
    pub fn most_at_once(&self) -> usize {
        self.gauge.most.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Wait for a turn; `Busy` when the line is already full.
    pub async fn enter(&self) -> Result<Turn, Busy> {
        use std::sync::atomic::Ordering;
        // Leaves the line however the wait ends, also when the waiting
        // request is dropped: a count that only grew would soon turn
        // everyone away.
        struct InLine<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for InLine<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let in_line = InLine(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            return Err(Busy);
        }
        let permit = self.permits.clone().acquire_owned().await;
        drop(in_line);
        let permit = permit.map_err(|_| Busy)?;
        let now = self.gauge.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.gauge.most.fetch_max(now, Ordering::SeqCst);
        Ok(Turn {
            _permit: permit,
            gauge: self.gauge.clone(),
        })
    }
}

/// The gate is full: the caller should say "busy, try again".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl HashGate {
    /// `size` hashes at once, and at most `max_waiting` waiting.
    pub fn new(size: usize, max_waiting: usize) -> HashGate {
        HashGate {
            admission: Admission::new(size, max_waiting),
            memories: Default::default(),
        }
    }

    /// Sized from this machine: as many hashes at once as the cores can
    /// use (two each), and never more than an eighth of the memory
    /// available now.
    pub fn for_this_machine() -> HashGate {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let available = available_memory().unwrap_or(1 << 30);
        let by_memory = (available / 8 / crate::account::ARGON2_MEMORY_BYTES).max(1) as usize;
        HashGate::new((2 * cores).min(by_memory), 256)
    }

    pub fn size(&self) -> usize {
        self.admission.size()
    }

    /// Run `hash` on the blocking pool once a permit is free.
    pub async fn run<T: Send + 'static>(
        &self,
        hash: impl FnOnce(&mut crate::account::HashMemory) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let _permit = self.admission.enter().await?;
        // Buffers are made on first need, so an idle server holds none; a
        // permit's holder always finds one free or makes it, so there are
        // never more buffers than permits.
        let mut memory = self
            .memories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        let (result, memory) = actix_web::web::block(move || (hash(&mut memory), memory))
            .await
            .map_err(|_| Busy)?;
        self.memories.lock().unwrap_or_else(|p| p.into_inner()).push(memory);
        Ok(result)
    }
}

/// `MemAvailable` of /proc/meminfo, in bytes, where there is one.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A wait as the refusal messages say it: whole minutes, at least one.
pub(crate) fn wait_minutes(wait: Duration) -> String {
    wait.as_secs().div_ceil(60).max(1).to_string()
}

/// A refusal page with `Retry-After`, so a client knows when to send again.
pub(crate) fn retry_after(mut response: HttpResponse, wait: Duration) -> HttpResponse {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(wait.as_secs().max(1)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[tokio::test]
    async fn admission_lets_size_in_queues_the_next_and_turns_the_rest_away() {
        let gate = Admission::new(1, 1);
        let first = gate.enter().await.expect("a free turn");
        let waiter = gate.enter();
        tokio::pin!(waiter);
        // Polled once, the second caller takes the one place in line.
        assert!(futures_util::FutureExt::now_or_never(waiter.as_mut()).is_none());
        assert_eq!(gate.enter().await.err(), Some(Busy), "the line is full");
        drop(first);
        let second = waiter.await.expect("the waiter's turn");
        drop(second);
        assert!(gate.enter().await.is_ok(), "free again");
        assert!(Admission::for_analyses().size() >= 1);
        // A waiter that gives up leaves the line.
        let first = gate.enter().await.expect("a free turn");
        let gave_up = gate.enter();
        assert!(futures_util::FutureExt::now_or_never(gave_up).is_none());
        let waiter = gate.enter();
        tokio::pin!(waiter);
        assert!(
            futures_util::FutureExt::now_or_never(waiter.as_mut()).is_none(),
            "its place in line is free again"
        );
        assert_eq!(gate.running(), 1);
        drop(first);
        let turn = waiter.await.expect("the waiter's turn");
        assert_eq!((gate.running(), gate.most_at_once()), (1, 1));
        drop(turn);
        assert_eq!(gate.running(), 0);
    }

    fn key(n: u8) -> ClientKey {
        ClientKey([n; 16])
    }

    #[test]
    fn buckets_allow_a_burst_then_the_rate() {
        let limiter = MemoryLimiter::new();
        let limit = Limit { per_hour: 60, burst: 5 };
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.take(Action::Submit, key(1), limit, t0).is_ok());
        }
        let wait = limiter.take(Action::Submit, key(1), limit, t0).unwrap_err();
        assert!(
            wait <= Duration::from_secs(60) && wait >= Duration::from_secs(59),
            "{wait:?}"
        );
        // Another client and another action have their own buckets.
        assert!(limiter.take(Action::Submit, key(2), limit, t0).is_ok());
        assert!(limiter.take(Action::Code, key(1), limit, t0).is_ok());
        // One minute later, one more.
        let t1 = t0 + Duration::from_secs(60);
        assert!(limiter.take(Action::Submit, key(1), limit, t1).is_ok());
        assert!(limiter.take(Action::Submit, key(1), limit, t1).is_err());
    }

    #[test]
    fn sign_in_failures_lock_out_with_backoff() {
        let limiter = MemoryLimiter::new();
        let t0 = Instant::now();
        for _ in 0..4 {
            assert_eq!(limiter.sign_in_failed(key(1), t0), None);
        }
        assert_eq!(limiter.sign_in_failed(key(1), t0), Some(Duration::from_secs(30)));
        assert_eq!(limiter.sign_in_locked(key(1), t0), Some(Duration::from_secs(30)));
        assert_eq!(limiter.sign_in_failed(key(1), t0), Some(Duration::from_secs(60)));
        assert_eq!(limiter.sign_in_locked(key(1), t0 + Duration::from_secs(61)), None);
        assert_eq!(limiter.sign_in_locked(key(2), t0), None);
        limiter.sign_in_succeeded(key(1));
        assert_eq!(
            limiter.sign_in_failed(key(1), t0),
            None,
            "a success starts the count again"
        );
    }

    #[test]
    fn limit_flags_parse() {
        let s: LimitSetting = "submit=120/h".parse().unwrap();
        assert_eq!(s.action, Action::Submit);
        assert_eq!(
            s.limit,
            Limit {
                per_hour: 120,
                burst: 20
            }
        );
        assert_eq!("api=10/m".parse::<LimitSetting>().unwrap().limit.per_hour, 600);
        assert_eq!(
            "code=48/d".parse::<LimitSetting>().unwrap().limit,
            Limit { per_hour: 2, burst: 3 }
        );
        for bad in ["submit", "submit=x/h", "nothing=1/h", "submit=1/w", "submit=0/h"] {
            assert!(bad.parse::<LimitSetting>().is_err(), "{bad}");
        }
        let limits = Limits::default().with(&["signin=6/h".parse().unwrap()]);
        assert_eq!(limits.sign_in.per_hour, 6);
        assert_eq!(limits.submit, Limits::default().submit);
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let behind = ClientIdentifier::new(vec![proxy]);
        let direct = ClientIdentifier::new(Vec::new());
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.9, 198.51.100.7"))
            .to_http_request();
        assert_eq!(behind.address(&req), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(
            direct.address(&req),
            Some(proxy),
            "headers from anyone else are ignored"
        );
        let spoofed = TestRequest::default()
            .peer_addr("203.0.113.50:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4"))
            .to_http_request();
        assert_eq!(behind.address(&spoofed), Some("203.0.113.50".parse().unwrap()));
        let standard = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("forwarded", "for=192.0.2.60;proto=https, for=\"[2001:db8::17]:4711\""))
            .to_http_request();
        assert_eq!(behind.address(&standard), Some("2001:db8::17".parse().unwrap()));
        // One IPv6 subscriber (/64) is one client; the key is not the address.
        let a = TestRequest::default()
            .peer_addr("[2001:db8:1:2::1]:1".parse().unwrap())
            .to_http_request();
        let b = TestRequest::default()
            .peer_addr("[2001:db8:1:2::ffff]:1".parse().unwrap())
            .to_http_request();
        let c = TestRequest::default()
            .peer_addr("[2001:db8:1:3::1]:1".parse().unwrap())
            .to_http_request();
        assert_eq!(direct.key(&a), direct.key(&b));
        assert_ne!(direct.key(&a), direct.key(&c));
        assert_ne!(
            ClientIdentifier::new(Vec::new()).key(&a),
            direct.key(&a),
            "each process draws its own key"
        );
    }

    #[tokio::test]
    async fn the_hash_gate_runs_at_most_its_size_at_once() {
        let gate = std::sync::Arc::new(HashGate::new(2, 100));
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    gate.run(move |_| {
                        use std::sync::atomic::Ordering::SeqCst;
                        let now = running.fetch_add(1, SeqCst) + 1;
                        most.fetch_max(now, SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);
        let full = HashGate::new(1, 0);
        assert_eq!(full.run(|_| ()).await, Err(Busy));
    }
}
