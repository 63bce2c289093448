//! The HTTP layer: routes, request decoding, languages, rendering. It turns
//! requests into calls on `survey` and `db` and their results into pages;
//! the rules themselves live in those modules.

pub mod analyses;
pub mod api;
pub mod body_deadline;
pub mod download;
pub mod error;
pub mod form;
pub mod i18n;
pub mod letters;
pub mod limits;
mod official;
pub mod precompressed;
pub mod render;
pub mod report;
mod resident;
pub mod routes;
pub mod security;
mod staff;
pub mod text_size;

use crate::config::ServeConfig;
use crate::crypto::ServerKey;
use crate::db::Database;
use crate::error::AppError;
pub use crate::registry::SurveyRegistry;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{Compress, DefaultHeaders, Logger};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use error::WebErrorKind;
use render::Renderer;
/// The resident form's fields as the submit handler reads them, for the
/// fuzz target of the form decoder (`fuzz/`).
#[doc(hidden)]
pub use resident::{Submitted, HIDDEN_FIELDS};
use std::net::TcpListener;
use std::sync::Arc;

/// Everything a handler needs, shared by all workers.
pub struct AppState {
    pub db: Database,
    /// What residents answer now; replaced whole when a version is
    /// published, so a handler keeps a consistent snapshot (its `Arc`).
    surveys: std::sync::RwLock<Arc<SurveyRegistry>>,
    /// How many versions were published when `surveys` was loaded: another
    /// instance's publication shows as a larger number in the database.
    published_seen: std::sync::atomic::AtomicI64,
    pub renderer: Arc<Renderer>,
    /// Empty first pages of forms rendered once per (survey, version,
    /// language, text size) and gzipped once, with slots where each
    /// request's tokens go (see `resident::show_form`); emptied when
    /// surveys are published.
    pub(crate) blank_forms: precompressed::PageCache<resident::BlankForm>,
    /// Signs form tokens and finds invitation codes.
    pub(crate) key: ServerKey,
    pub(crate) limiter: Box<dyn limits::RateLimiter>,
    pub(crate) limits: limits::Limits,
    pub(crate) clients: limits::ClientIdentifier,
    /// Bounds the password hashes running at once.
    pub(crate) hashing: limits::HashGate,
    /// Index computations at once (each runs two threads).
    pub(crate) analyses: limits::Admission,
    /// Computed indices, kept while their data are unchanged (`analyses`).
    pub(crate) results: analyses::Results,
    /// Where residents open the survey, for letters (`--public-url`).
    public_url: Option<String>,
    /// No caller may ask for smaller cells than this.
    pub(crate) min_cell_floor: u64,
    /// How long one analysis may run (`analyses::compute`).
    pub(crate) analysis_timeout: std::time::Duration,
    /// Analyses stopped before they finished.
    pub(crate) analysis_counts: analyses::AnalysisCounts,
    /// How long free-text answers are kept (`purge_free_text`).
    free_text_retention: Option<time::Duration>,
    /// How long a partial response lives after its last save.
    pub(crate) partial_lifetime: time::Duration,
    /// How long a request's body may take to arrive (`body_deadline`).
    pub(crate) body_deadline: std::time::Duration,
    /// The city's date and time: every "today" of a handler comes from it.
    pub clock: crate::clock::CityClock,
    /// Who runs the survey (the pages show it through the renderer).
    pub identity: Arc<crate::identity::Identity>,
}

impl AppState {
    /// The published surveys as of now.
    pub fn surveys(&self) -> Arc<SurveyRegistry> {
        self.surveys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Load the published versions from the database again, after a
    /// publication, so residents get the new version without a restart.
    /// Cached blank forms are keyed by version, so they would stay correct;
    /// they are dropped so that those of old versions do not pile up.
    pub fn reload_surveys(&self) -> Result<(), crate::db::DbError> {
        // Counted before loading: a publication in between is loaded now
        // or noticed by the next check, never missed.
        let published = self.db.published_version_count()?;
        let fresh = Arc::new(SurveyRegistry::new(self.db.stored_surveys()?));
        *self.surveys.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.blank_forms.clear();
        self.published_seen
            .store(published, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// How many blank forms are cached (tests watch it across a publication).
    pub fn cached_blank_forms(&self) -> usize {
        self.blank_forms.len()
    }

    /// Load the published versions again when any instance (or the command
    /// line) published one since they were loaded: one small count query.
    /// Blocking; the server runs it every second (`watch_publications`),
    /// and before every analysis, so no instance serves or analyses with
    /// a stale list for longer than that.
    pub fn refresh_surveys(&self) -> Result<Arc<SurveyRegistry>, crate::db::DbError> {
        let published = self.db.published_version_count()?;
        if published != self.published_seen.load(std::sync::atomic::Ordering::Relaxed) {
            log::info!("a survey version was published elsewhere; loading the published versions again");
            self.reload_surveys()?;
        }
        Ok(self.surveys())
    }

    /// [`AppState::refresh_surveys`], or the loaded list when the database
    /// cannot be asked (the caller's own query will report that).
    pub(crate) fn current_surveys(&self) -> Arc<SurveyRegistry> {
        self.refresh_surveys().unwrap_or_else(|e| {
            log::warn!("could not check for newly published versions: {e}");
            self.surveys()
        })
    }

    /// Version `version` of `slug`: from the loaded list, or, when another
    /// instance published it a moment ago, from the database.
    pub(crate) fn survey_version(&self, slug: &str, version: u32) -> Option<Arc<crate::db::StoredSurvey>> {
        self.surveys()
            .version(slug, version)
            .or_else(|| self.current_surveys().version(slug, version))
    }

    /// Where residents open the survey: `--public-url`, or else the
    /// address this request came to.
    pub(crate) fn public_url(&self, req: &HttpRequest) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            }
        }
    }

    /// The fields of a submitted form: the body must be declared
    /// `application/x-www-form-urlencoded` and decode strictly (see `form`).
    pub(crate) fn form_pairs(
        &self,
        req: &HttpRequest,
        body: &[u8],
        lang: crate::lang::Lang,
    ) -> Result<Vec<(String, String)>, error::WebError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(self.error(
                WebErrorKind::UnsupportedMediaType,
                lang,
                format!("content type {content_type:?}"),
            ));
        }
        form::parse_urlencoded(body).map_err(|e| {
            let kind = match e {
                form::FormDecodeError::InvalidUtf8 => WebErrorKind::InvalidUtf8,
                form::FormDecodeError::BadEscape => WebErrorKind::BadRequest,
            };
            self.error(kind, lang, e.to_string())
        })
    }
}

/// Largest code-entry form (an invitation or resume code and the tokens).
const START_FORM_BYTES: usize = 4 * 1024;

/// Content-Security-Policy for every page: only our own scripts, styles
/// and forms; no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Most blank forms kept: a few published surveys, each in three
/// languages and two text sizes, fit many times over.
const BLANK_FORMS_CACHED: usize = 128;

/// A bound, configured server, ready to run (see `tests/` for its use).
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Open the database, store the definitions and bind the address.
    pub fn build(config: &ServeConfig) -> Result<Application, AppError> {
        let settings = crate::db::PoolSettings {
            connection_timeout: config.db_timeout,
            ..config.pool
        };
        let (db, registry) = crate::registry::open_with(&config.database, config.defs_dir.as_deref(), settings)?;
        for setting in db.unsafe_settings()? {
            log::warn!(
                "the database {} runs with {setting}: a response thanked just before a power cut or an \
                 operating system crash may be lost (README, Durability)",
                config.database
            );
        }
        let key = db.server_key(&config.key_file)?;
        let renderer = Arc::new(Renderer::new(i18n::Messages::load()?)?.with_identity(config.identity.clone()));
        let hashing = limits::HashGate::for_this_machine();
        log::debug!("password hashes run {} at a time", hashing.size());
        log::info!("survey dates are calendar days in {}", config.clock.zone_name());
        let state = web::Data::new(AppState {
            db,
            // Unknown until `reload_surveys` below counts it.
            published_seen: std::sync::atomic::AtomicI64::new(-1),
            surveys: std::sync::RwLock::new(Arc::new(registry)),
            renderer,
            blank_forms: precompressed::PageCache::new(BLANK_FORMS_CACHED),
            key,
            limiter: Box::new(limits::MemoryLimiter::new()),
            limits: config.limits.clone(),
            clients: limits::ClientIdentifier::new(config.trusted_proxies.clone()),
            hashing,
            analyses: limits::Admission::for_analyses(),
            results: analyses::Results::new(Default::default()),
            public_url: config.public_url.clone(),
            min_cell_floor: config.min_cell_floor,
            analysis_timeout: config.analysis_timeout,
            analysis_counts: Default::default(),
            free_text_retention: config.free_text_retention,
            partial_lifetime: config.partial_lifetime,
            body_deadline: config.body_deadline,
            clock: config.clock.clone(),
            identity: config.identity.clone(),
        });
        // Once more, now that the count is taken first: a publication
        // during start-up is not missed, and the first check a second
        // later finds nothing to do instead of emptying the form cache
        // under the first residents.
        state.reload_surveys()?;
        let listener = TcpListener::bind(&config.bind).map_err(|e| AppError::Bind {
            address: config.bind.clone(),
            error: e,
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| AppError::Bind {
                address: config.bind.clone(),
                error: e,
            })?
            .port();
        let shared = state.clone();
        let hsts = config.hsts;
        let bench_page = match &config.bench_static_page {
            Some(file) => Some(web::Bytes::from(std::fs::read(file).map_err(|error| {
                AppError::BenchPage {
                    path: file.clone(),
                    error,
                }
            })?)),
            None => None,
        };
        let mut server = HttpServer::new(move || {
            let bench_page = bench_page.clone();
            App::new()
                .app_data(shared.clone())
                // Innermost: only the routes the table lists reach the router.
                .wrap(actix_web::middleware::from_fn(routes::enforce))
                // Inside compression: it may need to read the page it marks.
                .wrap(actix_web::middleware::from_fn(text_size::apply))
                .wrap(actix_web::middleware::from_fn(body_deadline::apply))
                .wrap(Compress::default())
                .wrap(security_headers(hsts))
                // The path only: a query may hold an invitation code, which
                // must not be written down beside a time.
                .wrap(
                    Logger::new("%{method}xi %U %s %b %Dms")
                        .custom_request_replace("method", |req| req.method().to_string()),
                )
                .route("/", web::get().to(resident::home))
                .route("/health", web::get().to(health))
                .route("/static/{file}", web::get().to(static_file))
                .service(
                    web::resource("/s/{slug}")
                        .route(web::get().to(resident::show_form))
                        .route(web::post().to(resident::submit))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/s/{slug}/start")
                        .app_data(web::PayloadConfig::new(START_FORM_BYTES))
                        .route(web::post().to(resident::start))
                        .default_service(web::to(method_not_allowed)),
                )
                .route("/s/{slug}/thanks", web::get().to(resident::thanks))
                .service(
                    web::resource("/s/{slug}/review")
                        .route(web::get().to(resident::review))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/s/{slug}/resume")
                        .app_data(web::PayloadConfig::new(START_FORM_BYTES))
                        .route(web::get().to(resident::resume_form))
                        .route(web::post().to(resident::resume))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/s/{slug}/clear")
                        .app_data(web::PayloadConfig::new(START_FORM_BYTES))
                        .route(web::get().to(resident::clear_form))
                        .route(web::post().to(resident::clear))
                        .default_service(web::to(method_not_allowed)),
                )
                .route("/privacy", web::get().to(official::privacy))
                .route(crate::identity::LOGO_PATH, web::get().to(official::logo))
                .route("/api/v1/surveys/{slug}/indices", web::get().to(api::indices))
                .route("/api/v1/surveys/{slug}/compare", web::get().to(api::compare))
                .route("/api/v1/surveys/{slug}/fieldwork", web::get().to(api::fieldwork))
                .route("/api/v1/surveys/{slug}/export.zip", web::get().to(api::export))
                .configure(staff::routes)
                .configure(move |cfg| {
                    if let Some(page) = bench_page {
                        cfg.route(
                            BENCH_PAGE_PATH,
                            web::get().to(move || {
                                let page = page.clone();
                                async move { bench_static_page(page) }
                            }),
                        );
                    }
                })
                .default_service(web::to(not_found))
        })
        // Responses are written in pieces (compressed pages stream), and with
        // Nagle's algorithm a kept-alive connection would wait ~40 ms for the
        // client's delayed ACK before the last piece.
        .tcp_nodelay(true)
        // A client that closes its connection has given up: stop serving it,
        // which drops the request's future and so cancels its analysis
        // (`analyses::compute`). The cost: a client that half-closes after
        // sending its request gets no answer; browsers and HTTP libraries
        // do not do that.
        .h1_allow_half_closed(false)
        .listen(listener)
        .map_err(|e| AppError::Bind {
            address: config.bind.clone(),
            error: e,
        })?;
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The state the handlers share (tests read its counters, e.g.
    /// `analysis_stats`).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // The watches run as long as the server, and stop with it.
        let watch = Box::pin(futures_util::future::select(
            Box::pin(watch_publications(self.state.clone())),
            Box::pin(purge_free_text(self.state.clone())),
        ));
        match futures_util::future::select(Box::pin(self.server), watch).await {
            futures_util::future::Either::Left((stopped, _)) => stopped,
            futures_util::future::Either::Right((never, _)) => match never.factor_first().0 {},
        }
    }
}

/// Every second, look for versions published by another instance or the
/// command line, so that every instance serves them within a second or two.
async fn watch_publications(state: web::Data<AppState>) -> std::convert::Infallible {
    let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let worker = state.clone();
        if let Ok(Err(e)) = web::block(move || worker.refresh_surveys()).await {
            log::warn!("could not check for newly published versions: {e}");
        }
    }
}

/// At start and then every hour, delete the free-text answers older than
/// the retention setting, if there is one (`db::retention`). Every
/// instance does it; a second one finds nothing left.
async fn purge_free_text(state: web::Data<AppState>) -> std::convert::Infallible {
    let Some(retention) = state.free_text_retention else {
        return std::future::pending().await;
    };
    let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let worker = state.clone();
        let purged = web::block(move || {
            let before = time::OffsetDateTime::now_utc() - retention;
            worker
                .db
                .purge_free_text(&worker.current_surveys().text_questions(), before, "(retention)")
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|purged| purged.map_err(|e| e.to_string()));
        match purged {
            Ok(purged) => {
                for p in purged {
                    log::info!(
                        "retention: deleted {} free-text answer(s) of {} v{} older than {} days",
                        p.answers,
                        p.slug,
                        p.version,
                        retention.whole_days()
                    );
                }
            }
            Err(e) => log::warn!("could not purge old free-text answers: {e}"),
        }
    }
}

/// Headers on every response, whatever its kind (page, asset, error, API,
/// redirect). `hsts`: the deployment is served over HTTPS only (`--hsts`),
/// so browsers are told never to use plain HTTP for it.
fn security_headers(hsts: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        // No page needs a camera, a microphone, a location or payments.
        .add((
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
        ))
        // A page opened from ours (a link in the privacy notice) cannot
        // reach back into it.
        .add((
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ));
    if hsts {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        headers
    }
}

/// Where `--bench-static-page` serves its file (benches/load/get_form.sh).
pub const BENCH_PAGE_PATH: &str = "/bench/static-page";

/// A saved gzip-encoded form page, the same bytes for every request, with
/// the form's own headers: what actix-web does at best with that page, the
/// yardstick of `GET /s/{slug}` in benches/load/get_form.sh.
fn bench_static_page(page: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::html())
        .insert_header((header::CONTENT_ENCODING, "gzip"))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page)
}

async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// Assets compiled into the binary, so the server runs from any folder.
const STATIC_FILES: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    ),
    (
        "form.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/form.js"),
    ),
];

async fn static_file(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    match STATIC_FILES.iter().find(|(name, _, _)| *name == path.as_str()) {
        Some((_, mime, body)) => HttpResponse::Ok()
            .content_type(*mime)
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(*body),
        None => actix_web::ResponseError::error_response(&state.error(
            WebErrorKind::NotFound,
            i18n::negotiate(&req),
            format!("no static file {path}"),
        )),
    }
}

async fn not_found(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    actix_web::ResponseError::error_response(&state.error(
        WebErrorKind::NotFound,
        i18n::negotiate(&req),
        format!("no page at {}", req.path()),
    ))
}

async fn method_not_allowed(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    actix_web::ResponseError::error_response(&state.error(
        WebErrorKind::MethodNotAllowed,
        i18n::negotiate(&req),
        format!("{} {}", req.method(), req.path()),
    ))
}
