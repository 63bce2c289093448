//! The start page of a wave that takes invitation codes: the survey's
//! title and introduction, a field for the code from the letter (filled in
//! when the resident scanned the letter's QR code), and what the code is
//! for. A code is checked here, before the resident spends time on the
//! form: a mistyped one is caught by its check symbol without any lookup,
//! and lookups count against the client's limit for code entry.

use super::view::{CodeView, FormView};
use super::{code_error_message, invitation_refusal, render_form, Answering};
use crate::db::InvitationUse;
use crate::fieldwork::InvitationCode;
use crate::lang::Lang;
use crate::survey::RawAnswers;
use crate::web::error::{WebError, WebErrorKind};
use crate::web::i18n::negotiate;
use crate::web::limits::{retry_after, wait_minutes, Action};
use crate::web::security::{csrf_cookie, csrf_or_new, matching_csrf};
use crate::web::AppState;
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// Longest code text taken from a link or a form (a code is 14 characters
/// with its hyphens; a little room for stray spaces).
const MAX_CODE_TEXT: usize = 40;

#[derive(Serialize)]
struct StartView<'a> {
    survey: super::view::SurveyHeader<'a>,
    csrf_token: &'a str,
    lang: &'static str,
    code: &'a str,
    error: Option<String>,
    has_errors: bool,
    /// The open link, when the wave also admits answers without a code.
    open_href: Option<String>,
}

/// Render the start page with `code` in its field and maybe an error.
pub(super) fn start_page(
    state: &AppState,
    req: &HttpRequest,
    answering: &Answering,
    lang: Lang,
    code: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let survey = &answering.stored.survey;
    let code: String = code.chars().take(MAX_CODE_TEXT).collect();
    let csrf = csrf_or_new(req);
    let view = StartView {
        survey: super::view::SurveyHeader::new(survey, lang),
        csrf_token: &csrf,
        lang: lang.code(),
        code: code.trim(),
        has_errors: error.is_some(),
        error,
        open_href: answering
            .current
            .access()
            .admits_open_link()
            .then(|| format!("/s/{}?open=1&lang={}", survey.slug, lang.code())),
    };
    let keep: Vec<(&str, &str)> = if code.trim().is_empty() {
        Vec::new()
    } else {
        vec![("code", code.trim())]
    };
    let html = state
        .renderer
        .render_keeping("survey_start", lang, survey.title.get(lang), false, &view, &keep)
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    let mut response = HttpResponse::build(status);
    response
        .cookie(csrf_cookie(req, &csrf))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(response.content_type(ContentType::html()).body(html))
}

/// POST /s/{slug}/start: check the code, then show the form with it.
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let hint = negotiate(&req);
    let answering = state.answering(hint, &path).await?;
    let form = super::SmallForm(state.form_pairs(&req, &body, hint)?);
    let field = |name: &str| form.field(name);
    let lang = form.lang(hint);
    let typed = field("code").unwrap_or("").trim();
    let messages = &state.renderer.messages;
    let refuse =
        |status: StatusCode, message: String| start_page(&state, &req, &answering, lang, typed, Some(message), status);
    if !answering.current.access().takes_codes() {
        // The wave no longer asks for codes: straight to the form.
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/s/{}?lang={}", path, lang.code())))
            .finish());
    }
    let Some(csrf) = matching_csrf(&req, field("_csrf")) else {
        return refuse(StatusCode::FORBIDDEN, messages.text(lang, "err_csrf_start", &[]));
    };
    if let Err(wait) = state.limit(&req, Action::Code) {
        let minutes = wait_minutes(wait);
        let response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            messages.text(lang, "err_too_many_codes", &[("minutes", &minutes)]),
        )?;
        return Ok(retry_after(response, wait));
    }
    let code = match InvitationCode::parse(typed) {
        Ok(code) => code,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, code_error_message(&state, lang, &e)),
    };
    let db = state.db.clone();
    let slug = path.to_string();
    let wave = answering.current.wave();
    let lookup = code.lookup_key(&state.key);
    let found = web::block(move || db.check_invitation(&slug, wave, &lookup))
        .await
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    if !matches!(found, InvitationUse::Usable { .. }) {
        let (status, message) = invitation_refusal(&state, lang, &found);
        return refuse(status, message);
    }
    // The same code brings back the answers saved with it, on any device:
    // this browser gets a new resume code for them.
    let now = time::OffsetDateTime::now_utc();
    let (db, slug, lookup) = (state.db.clone(), path.to_string(), code.lookup_key(&state.key));
    let saved = state
        .blocking(lang, move || {
            db.find_partial(&slug, crate::db::PartialKey::Invitation(&lookup), now)
        })
        .await?;
    if let Some(partial) = saved.filter(|p| !p.completed) {
        let resume = crate::fieldwork::ResumeCode::generate();
        let (db, key) = (state.db.clone(), resume.storage_key(&state.key));
        let expires = now + state.partial_lifetime;
        state
            .blocking(lang, move || db.rekey_partial(partial.id, &key, now, expires))
            .await?;
        return Ok(super::pages::see_other(format!("/s/{}?lang={}", path, lang.code()))
            .cookie(state.resume_cookie(&req, &path, &resume))
            .finish());
    }
    let survey = &answering.stored.survey;
    let token = state.issue_form_token(survey, &csrf);
    let written = code.to_string();
    let view = FormView::build(
        &state,
        survey,
        lang,
        &RawAnswers::default(),
        &[],
        &csrf,
        &token,
        super::first_page(),
    )
    .with_code(Some(CodeView {
        value: written,
        accepted: true,
        required: !answering.current.access().admits_open_link(),
        error: None,
    }));
    let html = render_form(&state, survey, lang, &view)?;
    let mut response = HttpResponse::Ok();
    response
        .cookie(csrf_cookie(&req, &csrf))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(response.content_type(ContentType::html()).body(html))
}
