//! Signing in and out.
//!
//! The sign-in form has no session yet, so it is protected like the
//! resident form: the `cp_csrf` cookie and the `_csrf` field must match
//! (a login CSRF would sign a victim in as the attacker). Once signed in,
//! forms repeat the session's own CSRF token, stored with the session.
//! A failed sign-in says only "username or password is not correct", and
//! costs the same hash verification whether or not the user exists.
//!
//! Guessing is slowed three ways: a rate limit per client, and after
//! repeated failures a lockout with exponential backoff both per account
//! (stored, so it holds across instances and restarts) and per client.
//! Every failure and every locked-out attempt goes to the audit log. The
//! password hash itself runs under `HashGate`, so a burst of sign-ins
//! cannot take the server's memory.

use super::{
    blocking, local_path, remember_lang, removed_session_cookie, session_cookie, staff_error_page, StaffError, Viewer,
};
use crate::account::verify_password;
use crate::db::SignInAttempt;
use crate::lang::Lang;
use crate::web::error::WebErrorKind;
use crate::web::i18n::{negotiate, query_param};
use crate::web::limits::{retry_after, wait_minutes, Action, Busy};
use crate::web::security::{csrf_cookie, csrf_of, csrf_or_new, matching_csrf, new_token, tokens_match};
use crate::web::AppState;
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

const DEFAULT_NEXT: &str = "/admin";

#[derive(Serialize)]
struct LoginError {
    /// The field to jump to from the error summary.
    anchor: Option<&'static str>,
    message: String,
}

#[derive(Serialize)]
struct LoginPage<'a> {
    csrf_token: &'a str,
    next: Option<&'a str>,
    username: &'a str,
    errors: Vec<LoginError>,
    has_errors: bool,
}

fn render_login(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    lang: Lang,
    page: &LoginPage<'_>,
) -> Result<HttpResponse, StaffError> {
    let title = state.renderer.messages.text(lang, "staff_login_title", &[]);
    let html = state
        .renderer
        .render("staff_login", lang, &title, false, page)
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    let mut response = HttpResponse::build(status);
    remember_lang(req, &mut response);
    response.cookie(csrf_cookie(req, page.csrf_token));
    Ok(response.content_type(ContentType::html()).body(html))
}

/// GET /login: the form, or straight on when already signed in.
pub async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, StaffError> {
    let next = query_param(req.query_string(), "next");
    let next = next.as_deref().and_then(local_path);
    if viewer.session.is_some() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next.unwrap_or(DEFAULT_NEXT)))
            .finish());
    }
    let csrf = csrf_or_new(&req);
    let page = LoginPage {
        csrf_token: &csrf,
        next,
        username: "",
        errors: Vec::new(),
        has_errors: false,
    };
    render_login(&state, &req, StatusCode::OK, viewer.lang, &page)
}

/// The fields of a staff form, as sent.
#[derive(Default)]
struct Fields {
    csrf: Option<String>,
    username: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

/// Decode an `application/x-www-form-urlencoded` staff form.
fn decode(state: &AppState, req: &HttpRequest, body: &[u8], lang: Lang) -> Result<Fields, StaffError> {
    let pairs = state.form_pairs(req, body, lang)?;
    let mut fields = Fields::default();
    for (key, value) in pairs {
        let slot = match key.as_str() {
            "_csrf" => &mut fields.csrf,
            "username" => &mut fields.username,
            "password" => &mut fields.password,
            "next" => &mut fields.next,
            // Unknown fields are ignored; nothing here stores them.
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    Ok(fields)
}

/// POST /login
pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let lang = negotiate(&req);
    let fields = decode(&state, &req, &body, lang)?;
    let next = fields.next.as_deref().and_then(local_path).map(str::to_string);
    // Usernames are lowercase; a phone's keyboard may capitalise the first letter.
    let username = fields.username.as_deref().unwrap_or("").trim().to_lowercase();
    let password = fields.password.unwrap_or_default();

    let cookie_csrf = csrf_of(&req);
    let csrf_ok = matching_csrf(&req, fields.csrf.as_deref()).is_some();
    let refuse = |status: StatusCode, anchor: Option<&'static str>, key: &str, csrf: &str| {
        let page = LoginPage {
            csrf_token: csrf,
            next: next.as_deref(),
            username: &username,
            errors: vec![LoginError {
                anchor,
                message: state.renderer.messages.text(lang, key, &[]),
            }],
            has_errors: true,
        };
        render_login(&state, &req, status, lang, &page)
    };
    if !csrf_ok {
        log::info!("sign-in refused: CSRF token missing or not matching");
        return refuse(StatusCode::FORBIDDEN, None, "staff_login_expired", &new_token());
    }
    let csrf = cookie_csrf.unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        let anchor = if username.is_empty() { "username" } else { "password" };
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(anchor),
            "staff_login_missing",
            &csrf,
        );
    }

    let client = state.clients.key(&req);
    let now = std::time::Instant::now();
    let locked_for = |wait: std::time::Duration| {
        let minutes = wait_minutes(wait);
        let page = LoginPage {
            csrf_token: &csrf,
            next: next.as_deref(),
            username: &username,
            errors: vec![LoginError {
                anchor: None,
                message: state
                    .renderer
                    .messages
                    .text(lang, "staff_login_locked", &[("minutes", &minutes)]),
            }],
            has_errors: true,
        };
        let response = render_login(&state, &req, StatusCode::TOO_MANY_REQUESTS, lang, &page)?;
        Ok::<_, StaffError>(retry_after(response, wait))
    };
    if let Err(wait) = state.limit(&req, Action::SignIn) {
        log::info!("sign-in refused: over the rate limit");
        return locked_for(wait);
    }
    if let Some(wait) = state.limiter.sign_in_locked(client, now) {
        let db = state.db.clone();
        let name = username.clone();
        blocking(&state, lang, move || db.record_locked_client(&name)).await?;
        log::info!("sign-in refused: client locked");
        return locked_for(wait);
    }
    let db = state.db.clone();
    let name = username.clone();
    let at = time::OffsetDateTime::now_utc();
    let attempt = blocking(&state, lang, move || db.begin_sign_in(&name, at)).await?;
    let stored_hash = match &attempt {
        SignInAttempt::Locked { until } => {
            log::info!("sign-in refused: account locked");
            let left = (*until - time::OffsetDateTime::now_utc()).whole_seconds().max(1) as u64;
            return locked_for(std::time::Duration::from_secs(left));
        }
        SignInAttempt::Check { password_hash, .. } => Some(password_hash.clone()),
        SignInAttempt::NoAccount => None,
    };
    let verified = state
        .hashing
        .run(move |memory| verify_password(&password, stored_hash.as_deref(), memory))
        .await;
    let verified = match verified {
        Ok(verified) => verified,
        Err(Busy) => {
            log::warn!("sign-in refused: too many password checks waiting");
            return Ok(staff_error_page(
                &state.renderer,
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                "staff_login_busy_title",
                "staff_login_busy_message",
            ));
        }
    };
    let user = match attempt {
        SignInAttempt::Check { user, .. } if verified => user,
        attempt => {
            let db = state.db.clone();
            let name = username.clone();
            blocking(&state, lang, move || db.record_failed_sign_in(&name, &attempt)).await?;
            state.limiter.sign_in_failed(client, now);
            log::info!("sign-in refused: wrong username or password");
            return refuse(StatusCode::UNAUTHORIZED, Some("username"), "staff_login_failed", &csrf);
        }
    };
    if user.disabled {
        // Said only to someone who knows the password, so it tells a
        // guesser nothing about which accounts exist.
        let db = state.db.clone();
        let refused = user.clone();
        blocking(&state, lang, move || db.record_disabled_sign_in(&refused)).await?;
        log::info!("sign-in refused: {} is disabled", user.username);
        return refuse(StatusCode::FORBIDDEN, None, "staff_login_disabled", &csrf);
    }
    state.limiter.sign_in_succeeded(client);
    let db = state.db.clone();
    let signed_in = user.clone();
    let old = viewer.session.as_ref().and(viewer.token.clone());
    let session = blocking(&state, lang, move || db.sign_in(&signed_in, old.as_deref())).await?;
    log::info!("{} ({}) signed in", user.username, user.role);
    Ok(HttpResponse::SeeOther()
        .cookie(session_cookie(&req, &session.token))
        .insert_header((header::LOCATION, next.as_deref().unwrap_or(DEFAULT_NEXT)))
        .finish())
}

/// POST /logout: ends the session in the database, so the cookie is dead
/// even if a copy of it survives somewhere.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let lang = viewer.lang;
    let (Some(session), Some(token)) = (&viewer.session, viewer.token.clone()) else {
        // Already signed out (or expired): the goal is reached. A stale
        // cookie the request carried is removed; a request that carried
        // none gets no cookie either: a cross-site form posting here is
        // sent without the SameSite cookie, and must not clear the
        // victim's session.
        let mut response = HttpResponse::SeeOther();
        if req.cookie(super::SESSION_COOKIE).is_some() {
            response.cookie(removed_session_cookie(&req));
        }
        return Ok(response.insert_header((header::LOCATION, "/login")).finish());
    };
    let fields = decode(&state, &req, &body, lang)?;
    if !fields
        .csrf
        .as_deref()
        .is_some_and(|field| tokens_match(&session.csrf_token, field))
    {
        log::info!(
            "sign-out refused for {}: CSRF token missing or not matching",
            session.user.username
        );
        return Ok(staff_error_page(
            &state.renderer,
            StatusCode::FORBIDDEN,
            lang,
            "staff_form_expired_title",
            "staff_form_expired_message",
        ));
    }
    let db = state.db.clone();
    blocking(&state, lang, move || db.sign_out(&token)).await?;
    log::info!("{} signed out", session.user.username);
    Ok(HttpResponse::SeeOther()
        .cookie(removed_session_cookie(&req))
        .insert_header((header::LOCATION, "/login"))
        .finish())
}
