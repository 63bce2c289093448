//! Pages for the people who run the surveys: sign-in, sign-out, the staff
//! home page, the audit log, the designers' survey pages and the
//! translators' pages (translations side by side, the form preview) and
//! the structure page (sections and questions of a draft).
//!
//! Every staff handler takes a [`Viewer`] (the session found from the
//! `cp_session` cookie, if any) and calls [`Viewer::require`] with the roles
//! the page admits, so access is decided on the server for each request;
//! hiding a link is never what protects a page. Anonymous visitors are sent
//! to `/login?next=…`, staff with another role get a 403 page in their
//! language. Staff responses are never cached.

mod accounts;
mod auth;
mod dashboard;
mod fieldwork;
mod pages;
mod structure;
mod surveys;
mod translations;

use super::error::WebError;
use super::i18n::{negotiate, query_lang, LANG_COOKIE};
use super::render::Renderer;
use super::AppState;
use crate::account::{Role, SESSION_LIFETIME};
use crate::db::Session;
use crate::lang::Lang;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Cookie carrying the session token (256 random bits as 64 hex digits).
pub const SESSION_COOKIE: &str = "cp_session";

/// Largest staff form body; sign-in and sign-out forms are a few hundred bytes.
const MAX_STAFF_FORM_BYTES: usize = 16 * 1024;

/// Register the staff routes on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let no_store = || DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store"));
    cfg.service(
        web::resource("/login")
            .app_data(web::PayloadConfig::new(MAX_STAFF_FORM_BYTES))
            .wrap(no_store())
            .route(web::get().to(auth::login_form))
            .route(web::post().to(auth::login_submit))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/logout")
            .app_data(web::PayloadConfig::new(MAX_STAFF_FORM_BYTES))
            .wrap(no_store())
            .route(web::post().to(auth::logout))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/account/password")
            .app_data(web::PayloadConfig::new(MAX_STAFF_FORM_BYTES))
            .wrap(no_store())
            .route(web::get().to(accounts::password_form))
            .route(web::post().to(accounts::change_password))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::scope("/dashboard")
            .wrap(no_store())
            .route("/{slug}", web::get().to(dashboard::show))
            .route("/{slug}/report", web::get().to(dashboard::report))
            .route("/{slug}/chart/{file}", web::get().to(dashboard::chart))
            .route("/{slug}/table/{file}", web::get().to(dashboard::table))
            .route("/{slug}/export.zip", web::get().to(dashboard::export_zip)),
    )
    .service(
        web::scope("/admin")
            .wrap(no_store())
            .route("", web::get().to(pages::home))
            .route("/audit", web::get().to(pages::audit))
            .route("/users", web::get().to(accounts::list))
            .service(
                web::resource("/users/{name}/{action}")
                    .app_data(web::PayloadConfig::new(MAX_STAFF_FORM_BYTES))
                    .route(web::post().to(accounts::act))
                    .default_service(web::to(super::method_not_allowed)),
            )
            .service(
                web::resource("/surveys")
                    .app_data(web::PayloadConfig::new(surveys::MAX_DEFINITION_FORM_BYTES))
                    .route(web::get().to(surveys::list))
                    .route(web::post().to(surveys::create))
                    .default_service(web::to(super::method_not_allowed)),
            )
            .route("/surveys/{slug}", web::get().to(surveys::detail))
            .route("/surveys/{slug}/export", web::get().to(surveys::export))
            .route("/surveys/{slug}/preview", web::get().to(translations::preview))
            .service(
                web::resource("/surveys/{slug}/translations")
                    .app_data(web::PayloadConfig::new(translations::MAX_TRANSLATIONS_FORM_BYTES))
                    .route(web::get().to(translations::show))
                    .route(web::post().to(translations::save))
                    .default_service(web::to(super::method_not_allowed)),
            )
            .service(
                web::resource("/surveys/{slug}/structure")
                    .app_data(web::PayloadConfig::new(structure::MAX_STRUCTURE_FORM_BYTES))
                    .route(web::get().to(structure::show))
                    .route(web::post().to(structure::save))
                    .default_service(web::to(super::method_not_allowed)),
            )
            .service(
                web::resource("/surveys/{slug}/import")
                    .app_data(web::PayloadConfig::new(surveys::MAX_DEFINITION_FORM_BYTES))
                    .route(web::post().to(surveys::import))
                    .default_service(web::to(super::method_not_allowed)),
            )
            .route("/surveys/{slug}/fieldwork", web::get().to(fieldwork::show))
            .service(
                web::resource("/surveys/{slug}/fieldwork/wave")
                    .app_data(web::PayloadConfig::new(fieldwork::MAX_FIELDWORK_FORM_BYTES))
                    .route(web::post().to(fieldwork::save_wave))
                    .default_service(web::to(super::method_not_allowed)),
            )
            .service(
                web::resource("/surveys/{slug}/fieldwork/frame")
                    .app_data(web::PayloadConfig::new(fieldwork::MAX_FIELDWORK_FORM_BYTES))
                    .route(web::post().to(fieldwork::save_frame))
                    .default_service(web::to(super::method_not_allowed)),
            )
            .service(
                web::resource("/surveys/{slug}/fieldwork/invitations")
                    .app_data(web::PayloadConfig::new(fieldwork::MAX_FIELDWORK_FORM_BYTES))
                    .route(web::post().to(fieldwork::create_batch))
                    .default_service(web::to(super::method_not_allowed)),
            )
            .route(
                "/surveys/{slug}/invitations/{batch}/codes.csv",
                web::get().to(fieldwork::batch_csv),
            )
            .route(
                "/surveys/{slug}/invitations/{batch}/letters",
                web::get().to(fieldwork::batch_letters),
            )
            .service(
                web::resource("/surveys/{slug}/publish")
                    .app_data(web::PayloadConfig::new(MAX_STAFF_FORM_BYTES))
                    .route(web::post().to(surveys::publish))
                    .default_service(web::to(super::method_not_allowed)),
            ),
    );
}

/// Who is asking: the live session from the cookie, if any, and the
/// language to answer in.
pub struct Viewer {
    pub lang: Lang,
    pub session: Option<Session>,
    /// The cookie's token, to end the session; never logged.
    token: Option<String>,
    /// Path and query of this request, to come back to after signing in.
    here: String,
}

impl Viewer {
    /// The session cookie's token, when there is a live session.
    pub fn session_token(&self) -> Option<&str> {
        self.session.as_ref().and(self.token.as_deref())
    }

    /// The session, if its user has one of `roles`.
    pub fn require(&self, state: &AppState, roles: &[Role]) -> Result<&Session, StaffError> {
        match &self.session {
            None => Err(StaffError::SignIn {
                next: self.here.clone(),
            }),
            Some(session) if roles.contains(&session.user.role) => Ok(session),
            Some(session) => Err(StaffError::Forbidden {
                lang: self.lang,
                renderer: state.renderer.clone(),
                detail: format!(
                    "{} ({}) may not open {}",
                    session.user.username, session.user.role, self.here
                ),
            }),
        }
    }
}

impl FromRequest for Viewer {
    type Error = StaffError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, StaffError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let lang = negotiate(&req);
            let here = req
                .uri()
                .path_and_query()
                .map_or_else(|| req.path().to_string(), |pq| pq.as_str().to_string());
            let token = req
                .cookie(SESSION_COOKIE)
                .map(|c| c.value().to_string())
                .filter(|t| is_session_token(t));
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .expect("AppState is registered");
            let session = match token.clone() {
                None => None,
                Some(token) => {
                    let db = state.db.clone();
                    blocking(&state, lang, move || db.session(&token)).await?
                }
            };
            Ok(Viewer {
                lang,
                session,
                token,
                here,
            })
        })
    }
}

/// Run a database call on the blocking pool; any failure is a 500 page.
async fn blocking<T, E>(
    state: &AppState,
    lang: Lang,
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, StaffError>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let internal = |detail: String| StaffError::Page(state.error(super::error::WebErrorKind::Internal, lang, detail));
    web::block(f)
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|e| internal(e.to_string()))
}

/// The rules `input` breaks, one sentence each in `lang` (`validation`).
fn broken_rules(state: &AppState, lang: Lang, input: &impl validator::Validate) -> Vec<String> {
    input.validate().err().map_or_else(Vec::new, |errors| {
        crate::validation::problems_with(&errors, |key, args| state.renderer.messages.text(lang, key, args))
    })
}

/// Session tokens are 64 lowercase hex digits.
fn is_session_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `next` if it is a path on this site: it must start with one `/` (not
/// `//` or `/\`, which browsers read as another host) and hold only
/// printable ASCII, so a sign-in link cannot send anyone elsewhere.
pub fn local_path(next: &str) -> Option<&str> {
    let bytes = next.as_bytes();
    let ok = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && bytes.len() <= 2048
        && bytes.iter().all(|b| b.is_ascii_graphic());
    ok.then_some(next)
}

/// `/login?next=PATH`, with PATH percent-encoded.
fn login_location(next: &str) -> String {
    match local_path(next) {
        Some(next) if next != "/admin" => format!("/login?next={}", percent_encode(next)),
        _ => "/login".to_string(),
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The session cookie: script cannot read it, no other site can make the
/// browser send it, and over HTTPS it is never sent in clear.
fn session_cookie(req: &HttpRequest, token: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(actix_web::cookie::time::Duration::seconds(
            SESSION_LIFETIME.whole_seconds(),
        ))
        .finish()
}

/// The same cookie, emptied and already expired.
fn removed_session_cookie(req: &HttpRequest) -> Cookie<'static> {
    let mut cookie = session_cookie(req, "");
    cookie.make_removal();
    cookie
}

/// Remember a language chosen with `?lang=`, as the resident pages do.
fn remember_lang(req: &HttpRequest, response: &mut HttpResponseBuilder) {
    if let Some(lang) = query_lang(req) {
        response.cookie(
            Cookie::build(LANG_COOKIE, lang.code())
                .path("/")
                .max_age(actix_web::cookie::time::Duration::days(365))
                .same_site(SameSite::Lax)
                .secure(req.connection_info().scheme() == "https")
                .finish(),
        );
    }
}

/// Why a staff page was not shown.
pub enum StaffError {
    /// Nobody is signed in: go to the sign-in page, then come back.
    SignIn { next: String },
    /// Signed in, but with a role this page does not admit.
    Forbidden {
        lang: Lang,
        renderer: Arc<Renderer>,
        /// For the log only.
        detail: String,
    },
    /// Any other error page (bad request, server failure, …).
    Page(WebError),
}

impl From<WebError> for StaffError {
    fn from(e: WebError) -> StaffError {
        StaffError::Page(e)
    }
}

impl std::fmt::Debug for StaffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for StaffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StaffError::SignIn { next } => write!(f, "not signed in (wanted {next})"),
            StaffError::Forbidden { detail, .. } => write!(f, "forbidden: {detail}"),
            StaffError::Page(e) => write!(f, "{e}"),
        }
    }
}

/// A staff error page (`error.hbs`) in `lang`, with no-store.
fn staff_error_page(
    renderer: &Renderer,
    status: StatusCode,
    lang: Lang,
    heading_key: &str,
    message_key: &str,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    crate::web::error::error_page(response, status, renderer, lang, (heading_key, message_key), "/admin")
}

impl ResponseError for StaffError {
    fn status_code(&self) -> StatusCode {
        match self {
            StaffError::SignIn { .. } => StatusCode::SEE_OTHER,
            StaffError::Forbidden { .. } => StatusCode::FORBIDDEN,
            StaffError::Page(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            StaffError::SignIn { next } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, login_location(next)))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish(),
            StaffError::Forbidden { lang, renderer, detail } => {
                log::info!("refused staff request: {detail}");
                staff_error_page(
                    renderer,
                    StatusCode::FORBIDDEN,
                    *lang,
                    "staff_forbidden_title",
                    "staff_forbidden_message",
                )
            }
            StaffError::Page(e) => {
                let mut response = e.error_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
                response
            }
        }
    }
}

/// Role names in the page language.
fn role_label(state: &AppState, lang: Lang, role: Role) -> String {
    state
        .renderer
        .messages
        .text(lang, &format!("staff_role_{}", role.as_str()), &[])
}

/// The bar at the top of every signed-in page: who, which role, sign out.
#[derive(Serialize)]
struct StaffBar {
    username: String,
    role: &'static str,
    role_label: String,
    signed_in_as: String,
    csrf_token: String,
    is_admin: bool,
}

impl StaffBar {
    fn new(state: &AppState, lang: Lang, session: &Session) -> StaffBar {
        let role_label = role_label(state, lang, session.user.role);
        StaffBar {
            username: session.user.username.to_string(),
            role: session.user.role.as_str(),
            signed_in_as: state.renderer.messages.text(
                lang,
                "staff_signed_in_as",
                &[("username", session.user.username.as_str()), ("role", &role_label)],
            ),
            role_label,
            csrf_token: session.csrf_token.clone(),
            is_admin: session.user.role == Role::Admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for ok in ["/admin", "/admin/audit?lang=en", "/"] {
            assert_eq!(local_path(ok), Some(ok));
        }
        for bad in [
            "",
            "admin",
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "/admin\r\nSet-Cookie: x=y",
            "/a b",
            "/管理",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
        assert_eq!(login_location("/admin"), "/login");
        assert_eq!(
            login_location("/admin/audit?lang=en"),
            "/login?next=/admin/audit%3Flang%3Den"
        );
    }

    #[test]
    fn every_staff_message_is_in_the_catalog() {
        let messages = crate::web::i18n::Messages::load().unwrap();
        let templates = [
            include_str!("../../../templates/staff_bar.hbs"),
            include_str!("../../../templates/staff_login.hbs"),
            include_str!("../../../templates/admin_home.hbs"),
            include_str!("../../../templates/admin_audit.hbs"),
            include_str!("../../../templates/admin_surveys.hbs"),
            include_str!("../../../templates/admin_survey.hbs"),
            include_str!("../../../templates/admin_translations.hbs"),
            include_str!("../../../templates/admin_structure.hbs"),
            include_str!("../../../templates/admin_preview_problems.hbs"),
            include_str!("../../../templates/admin_fieldwork.hbs"),
            include_str!("../../../templates/fieldwork_figures.hbs"),
        ];
        let mut keys: Vec<String> = templates
            .iter()
            .flat_map(|text| text.split("{{t.").skip(1))
            .map(|rest| rest.split("}}").next().unwrap().to_string())
            .collect();
        assert!(keys.len() > 20, "{keys:?}");
        for role in Role::ALL {
            keys.push(format!("staff_role_{role}"));
            keys.push(format!("staff_role_help_{role}"));
        }
        for action in [
            "login",
            "logout",
            "user_create",
            "survey_import",
            "survey_publish",
            "survey_translate",
            "survey_edit",
            "wave_set",
            "frame_set",
            "invitations_create",
            "login_failed",
            "login_locked",
        ] {
            keys.push(format!("staff_audit_action_{action}"));
        }
        for status in ["draft", "open", "not_yet_open", "closed"] {
            keys.push(format!("staff_status_{status}"));
        }
        for status in ["draft", "published"] {
            keys.push(format!("staff_version_{status}"));
        }
        for access in crate::fieldwork::Access::ALL {
            keys.push(format!("staff_access_{access}"));
        }
        for flag in crate::fieldwork::Flag::ALL {
            keys.push(format!("staff_flag_{flag}"));
        }
        keys.extend(
            [
                "staff_login_title",
                "staff_login_failed",
                "staff_login_missing",
                "staff_login_expired",
                "staff_signed_in_as",
                "staff_home_title",
                "staff_audit_title",
                "staff_forbidden_title",
                "staff_forbidden_message",
                "staff_form_expired_title",
                "staff_form_expired_message",
                "staff_surveys_title",
                "staff_imported_notice",
                "staff_published_notice",
                "staff_import_failed",
                "staff_publish_failed",
                "staff_translations_title",
                "staff_translations_saved",
                "staff_translations_failed",
                "staff_translations_meter_label",
                "staff_structure_title",
                "staff_structure_saved",
                "staff_structure_failed",
                "staff_preview_banner_draft",
                "staff_preview_banner_published",
                "staff_preview_phone",
                "staff_preview_full",
                "staff_preview_back",
                "staff_preview_problems_title",
                "survey_not_yet_open_title",
                "survey_not_yet_open_message",
                "survey_closed_title",
                "survey_closed_message",
                "staff_login_locked",
                "staff_login_busy_title",
                "staff_login_busy_message",
                "staff_fieldwork_title",
                "staff_fieldwork_saved_settings",
                "staff_fieldwork_saved_frame",
                "staff_fieldwork_created_batch",
                "staff_fieldwork_total",
                "staff_fieldwork_responses",
            ]
            .map(String::from),
        );
        for key in keys {
            assert!(messages.has(&key), "messages.toml has no {key}");
        }
    }

    #[test]
    fn token_shapes() {
        assert!(is_session_token(&"ab".repeat(32)));
        assert!(!is_session_token(&"AB".repeat(32)));
    }
}
