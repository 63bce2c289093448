//! Coming back to saved answers, and letting them go: the "continue where
//! you left off" page, the form where a resume code is typed (for another
//! device), and clearing what is stored (the one deletion a resident can
//! ask for; docs/privacy.md).

use super::pages::{cookie_code, forget_resume, live_partial, see_other, PageRef, RESUME_COOKIE};
use super::view::SurveyHeader;
use super::{code_error_message, Answering};
use crate::fieldwork::ResumeCode;
use crate::lang::Lang;
use crate::web::error::{WebError, WebErrorKind};
use crate::web::i18n::negotiate;
use crate::web::limits::{retry_after, wait_minutes, Action};
use crate::web::security::{csrf_cookie, csrf_or_new, matching_csrf};
use crate::web::AppState;
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// Longest code text taken from the form.
const MAX_CODE_TEXT: usize = 60;

#[derive(Serialize, Default)]
struct ResumeView<'a> {
    survey: Option<SurveyHeader<'a>>,
    csrf_token: String,
    lang: &'static str,
    slug: &'a str,
    /// "Continue where you left off".
    is_continue: bool,
    /// The resume code form.
    is_resume: bool,
    /// "Clear my answers?"
    is_clear: bool,
    continue_href: String,
    review_href: String,
    clear_href: String,
    resume_href: String,
    code: String,
    error: Option<String>,
    has_errors: bool,
    answered: usize,
}

fn render(
    state: &AppState,
    req: &HttpRequest,
    lang: Lang,
    title_key: &str,
    view: &ResumeView<'_>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let title = state.renderer.messages.text(lang, title_key, &[]);
    let html = state
        .renderer
        .render("survey_resume", lang, &title, false, view)
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    let mut response = HttpResponse::build(status);
    response
        .cookie(csrf_cookie(req, &view.csrf_token))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(lang) = crate::web::i18n::query_lang(req) {
        response.cookie(super::lang_cookie(req, lang));
    }
    Ok(response.content_type(ContentType::html()).body(html))
}

/// GET /s/{slug} with a live partial: continue, or start again.
pub(super) fn continue_page(
    state: &AppState,
    req: &HttpRequest,
    answering: &Answering,
    lang: Lang,
    partial: &crate::db::Partial,
) -> Result<HttpResponse, WebError> {
    let survey = &answering.stored.survey;
    let slug = survey.slug.as_str();
    let sections = survey.sections.len();
    let view = ResumeView {
        survey: Some(SurveyHeader::new(survey, lang)),
        csrf_token: csrf_or_new(req),
        lang: lang.code(),
        slug,
        is_continue: true,
        continue_href: PageRef::from_reach(partial.last_page, sections).href(slug, lang),
        review_href: PageRef::Review.href(slug, lang),
        clear_href: format!("/s/{slug}/clear?lang={}", lang.code()),
        answered: partial
            .answers
            .fields()
            .filter(|f| super::view::is_answered(&partial.answers, f))
            .count(),
        ..ResumeView::default()
    };
    render(state, req, lang, "continue_title", &view, StatusCode::OK)
}

fn resume_view<'a>(req: &HttpRequest, answering: &'a Answering, lang: Lang) -> ResumeView<'a> {
    let survey = &answering.stored.survey;
    ResumeView {
        survey: Some(SurveyHeader::new(survey, lang)),
        csrf_token: csrf_or_new(req),
        lang: lang.code(),
        slug: survey.slug.as_str(),
        is_resume: true,
        continue_href: format!("/s/{}?lang={}", survey.slug, lang.code()),
        ..ResumeView::default()
    }
}

/// GET /s/{slug}/resume: the field for a resume code.
pub async fn resume_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let lang = negotiate(&req);
    let answering = state.answering(lang, &path).await?;
    let view = resume_view(&req, &answering, lang);
    render(&state, &req, lang, "resume_title", &view, StatusCode::OK)
}

/// POST /s/{slug}/resume: find the answers saved under a typed code.
pub async fn resume(
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
    let typed: String = field("code").unwrap_or("").trim().chars().take(MAX_CODE_TEXT).collect();
    let messages = &state.renderer.messages;
    let refuse = |status: StatusCode, error: String| {
        let view = ResumeView {
            code: typed.clone(),
            has_errors: true,
            error: Some(error),
            ..resume_view(&req, &answering, lang)
        };
        render(&state, &req, lang, "resume_title", &view, status)
    };
    let csrf_ok = matching_csrf(&req, field("_csrf")).is_some();
    if !csrf_ok {
        return refuse(StatusCode::FORBIDDEN, messages.text(lang, "err_csrf_start", &[]));
    }
    // Guessing is bounded like guessing invitation codes.
    if let Err(wait) = state.limit(&req, Action::Resume) {
        let minutes = wait_minutes(wait);
        let response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            messages.text(lang, "err_too_many_codes", &[("minutes", &minutes)]),
        )?;
        return Ok(retry_after(response, wait));
    }
    let code = match ResumeCode::parse(&typed) {
        Ok(code) => code,
        Err(e) => {
            let message = match e {
                crate::fieldwork::CodeError::Length(n) => messages.text(
                    lang,
                    "err_resume_length",
                    &[("count", &n.to_string()), ("expected", "21")],
                ),
                e => code_error_message(&state, lang, &e),
            };
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, message);
        }
    };
    match state.partial(lang, &path, &code).await? {
        Some(partial) if !partial.completed => {
            let sections = state
                .survey_of(&answering, &path, partial.version)
                .survey
                .sections
                .len();
            Ok(
                see_other(PageRef::from_reach(partial.last_page, sections).href(&path, lang))
                    .cookie(state.resume_cookie(&req, &path, &code))
                    .finish(),
            )
        }
        Some(_) => refuse(StatusCode::CONFLICT, messages.text(lang, "err_resume_completed", &[])),
        None => {
            let days = state.partial_lifetime.whole_days().max(1).to_string();
            refuse(
                StatusCode::NOT_FOUND,
                messages.text(lang, "err_resume_unknown", &[("days", &days)]),
            )
        }
    }
}

/// GET /s/{slug}/clear: are you sure?
pub async fn clear_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let lang = negotiate(&req);
    let answering = state.answering(lang, &path).await?;
    if live_partial(&state, &req, lang, &path).await?.is_none() {
        return Ok(see_other(format!("/s/{}?lang={}", path, lang.code())).finish());
    }
    let survey = &answering.stored.survey;
    let view = ResumeView {
        survey: Some(SurveyHeader::new(survey, lang)),
        csrf_token: csrf_or_new(&req),
        lang: lang.code(),
        slug: survey.slug.as_str(),
        is_clear: true,
        continue_href: format!("/s/{}?lang={}", survey.slug, lang.code()),
        review_href: PageRef::Review.href(survey.slug.as_str(), lang),
        ..ResumeView::default()
    };
    render(&state, &req, lang, "clear_title", &view, StatusCode::OK)
}

/// POST /s/{slug}/clear: delete the saved answers and forget the code.
pub async fn clear(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let hint = negotiate(&req);
    let form = super::SmallForm(state.form_pairs(&req, &body, hint)?);
    let field = |name: &str| form.field(name);
    let lang = form.lang(hint);
    let csrf_ok = matching_csrf(&req, field("_csrf")).is_some();
    if !csrf_ok {
        // A stale confirmation page: ask again, with fresh tokens.
        return Ok(see_other(format!("/s/{}/clear?lang={}", path, lang.code())).finish());
    }
    if let Some(code) = cookie_code(&req) {
        if let Some(partial) = state.partial(lang, &path, &code).await? {
            if !partial.completed {
                let db = state.db.clone();
                let id = partial.id;
                state.blocking(lang, move || db.delete_partial(id)).await?;
                log::info!("a resident cleared their saved answers to {}", path);
            }
        }
    }
    let mut response = see_other(format!("/s/{}?lang={}&cleared=1", path, lang.code()));
    if req.cookie(RESUME_COOKIE).is_some() {
        response.cookie(forget_resume(&req, &path));
    }
    Ok(response.finish())
}
